import { Builder } from "../ir/builder.js";
import { isFloatDType } from "../ir/dtype.js";
import { IrError, irAssert } from "../ir/errors.js";
import type { Graph } from "../ir/graph.js";
import { reachableNodes } from "../ir/interpret.js";
import type { Node } from "../ir/node.js";
import { canBroadcastTo, formatShape, isConcreteShape, numel, shapesEqual, type Shape } from "../ir/shape.js";
import { GRADIENT_RULES } from "./autodiff-rules.js";
import { rebuildGraph } from "./rebuild.js";

/**
 * Sums a cotangent computed at a broadcast shape down to `shape`: over the leading axes
 * broadcasting added and over the axes where `shape` has 1 (d/dx of broadcast is sum).
 */
export function unbroadcast(b: Builder, g: Node, shape: Shape): Node {
  if (shapesEqual(g.shape, shape)) return g;
  const extra = g.shape.length - shape.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    if (i < extra || (shape[i - extra] === 1 && d !== 1)) axes.push(i);
  });
  let out = axes.length > 0 ? b.sum(g, axes, true) : g;
  if (out.shape.length !== shape.length || !shapesEqual(out.shape, shape)) {
    const compact = out.shape.slice(out.shape.length - shape.length);
    if (out.shape.slice(0, extra).every((d) => d === 1) && shapesEqual(compact, shape)) out = b.reshape(out, shape);
    else if (canBroadcastTo(out.shape, shape)) out = b.broadcastTo(out, shape);
    else throw new IrError(`autodiff: cannot bring a cotangent of shape ${formatShape(g.shape)} to ${formatShape(shape)}`);
  }
  return out;
}

/**
 * Appends to `b`'s graph the reverse-mode gradients of `output` w.r.t. each `wrt` node,
 * given the cotangent `seed` of `output` (same shape and dtype). Only nodes on a path
 * from some `wrt` to `output` are differentiated; a `wrt` the output does not depend on
 * gets zeros. Cotangents reaching a node along several uses are added.
 */
export function appendGradients(b: Builder, output: Node, seed: Node, wrt: readonly Node[]): Node[] {
  irAssert(shapesEqual(seed.shape, output.shape) && seed.dtype === output.dtype, () => `autodiff: seed ${seed.dtype}${formatShape(seed.shape)} does not match output ${output.dtype}${formatShape(output.shape)}`);
  const order = reachableNodes([output]);
  const targets = new Set(wrt);
  const active = new Set<Node>();
  for (const node of order) {
    if (targets.has(node) || node.inputs.some((i) => active.has(i))) active.add(node);
  }

  const cotangents = new Map<Node, Node>([[output, seed]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const y = order[k] as Node;
    const g = cotangents.get(y);
    if (!g || !active.has(y) || y.inputs.length === 0) continue;
    const grads = GRADIENT_RULES[y.op]({ b: b.at(y.span), y, g });
    y.inputs.forEach((input, i) => {
      const gi = grads[i];
      if (!gi || !active.has(input) || !isFloatDType(input.dtype)) return;
      const reduced = unbroadcast(b, gi, input.shape);
      const previous = cotangents.get(input);
      cotangents.set(input, previous ? b.add(previous, reduced) : reduced);
    });
  }
  return wrt.map((w) => cotangents.get(w) ?? b.zeros(w.shape, w.dtype));
}

export interface DifferentiateOptions {
  /** The output to differentiate. */
  readonly of: string;
  /** Input names to differentiate with respect to. */
  readonly wrt: readonly string[];
  /**
   * `auto` (default): a one-element output is seeded with 1, any other output gets a
   * cotangent input `seed_<of>`. `input`: always take the cotangent as an input.
   */
  readonly seed?: "auto" | "input";
}

export const seedInputName = (of: string): string => `seed_${of}`;
export const gradientOutputName = (wrt: string): string => `grad_${wrt}`;

/**
 * Reverse-mode autodiff as a graph -> graph pass: the result keeps every output of
 * `graph` and adds `grad_<name>` for each `wrt` input (same shape as the input).
 */
export function differentiate(graph: Graph, options: DifferentiateOptions): Graph {
  const copy = rebuildGraph(graph).graph;
  const output = copy.findOutput(options.of);
  if (!output) throw new IrError(`autodiff: no output named "${options.of}"`);
  const b = new Builder(copy, { dtype: output.dtype });
  const wrt = options.wrt.map((name) => {
    const node = copy.findInput(name);
    if (!node) throw new IrError(`autodiff: no input named "${name}"`);
    return node;
  });
  const scalar = isConcreteShape(output.shape) && numel(output.shape) === 1;
  const seed = scalar && options.seed !== "input" ? b.ones(output.shape) : b.input(seedInputName(options.of), output.shape, output.dtype);
  const grads = appendGradients(b, output, seed, wrt);
  grads.forEach((g, i) => copy.output(gradientOutputName(options.wrt[i] as string), g));
  return copy;
}
