import { IrError } from "./errors.js";
import type { Graph } from "./graph.js";
import { isFloatDType } from "./dtype.js";
import { KERNELS } from "./kernels.js";
import type { Node } from "./node.js";
import { bindShape, evalDim, formatShape, type DimBindings } from "./shape.js";
import { sizeOf, type Tensor } from "./tensor.js";

export type { Tensor } from "./tensor.js";

/**
 * `f64`: every op in float64 (the reference). `f32`: every float result (and every
 * input) rounded with `Math.fround`, which models single-precision kernels op by op.
 * In both modes `cast` applies its target's rounding (bf16, i32, bool are real
 * conversions, not precision choices).
 */
export type Precision = "f64" | "f32";

export interface InterpretOptions {
  readonly precision?: Precision;
  /** Output names to compute; default all. */
  readonly outputs?: readonly string[];
}

/** Nodes needed to compute `roots`, in graph (topological) order. */
export function reachableNodes(roots: readonly Node[]): Node[] {
  const seen = new Set<Node>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop() as Node;
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push(...n.inputs);
  }
  return [...seen].sort((a, b) => a.id - b.id);
}

/**
 * Binds symbolic dims (T, C, ...) from the actual shapes of input values. `required`
 * inputs must be given; `optional` ones bind when given (a zero gradient of an unused
 * input still needs its `T`).
 */
export function bindInputs(required: readonly Node[], values: Readonly<Record<string, Tensor>>, optional: readonly Node[] = []): DimBindings {
  const bindings: DimBindings = new Map();
  const requiredSet = new Set(required);
  for (const node of [...required, ...optional.filter((n) => !requiredSet.has(n))]) {
    const name = node.attrs["name"] as string;
    const value = values[name];
    if (!value) {
      if (requiredSet.has(node)) throw new IrError(`interpret: missing input "${name}"`);
      continue;
    }
    if (value.data.length !== sizeOf(value.shape)) throw new IrError(`interpret: input "${name}" has ${value.data.length} values for shape [${value.shape.join(", ")}]`);
    const problem = bindShape(node.shape, value.shape, bindings);
    if (problem) throw new IrError(`interpret: input "${name}" has shape [${value.shape.join(", ")}], declared ${formatShape(node.shape)}: ${problem}`);
  }
  return bindings;
}

/** Values of `nodes` (and everything they need), keyed by node; `otherInputs` only bind dims. */
export function evaluate(
  nodes: readonly Node[],
  inputs: Readonly<Record<string, Tensor>>,
  precision: Precision = "f64",
  otherInputs: readonly Node[] = [],
): Map<Node, Tensor> {
  const order = reachableNodes(nodes);
  const bindings = bindInputs(order.filter((n) => n.op === "input"), inputs, otherInputs);
  const round = (node: Node, data: Float64Array): Float64Array =>
    precision === "f32" && isFloatDType(node.dtype) && node.op !== "cast" ? data.map(Math.fround) : data;

  const values = new Map<Node, Tensor>();
  for (const node of order) {
    const shape = node.shape.map((d) => evalDim(d, bindings));
    let data: Float64Array;
    if (node.op === "input") {
      data = Float64Array.from((inputs[node.attrs["name"] as string] as Tensor).data);
    } else {
      const args = node.inputs.map((i) => values.get(i) as Tensor);
      data = KERNELS[node.op]({ attrs: node.attrs, dtype: node.dtype, inputs: args, shape });
    }
    values.set(node, { shape, data: round(node, data) });
  }
  return values;
}

/** Runs a graph on named inputs and returns its named outputs. */
export function interpret(graph: Graph, inputs: Readonly<Record<string, Tensor>>, options: InterpretOptions = {}): Record<string, Tensor> {
  const wanted = graph.outputs.filter((o) => !options.outputs || options.outputs.includes(o.name));
  if (options.outputs) {
    for (const name of options.outputs) {
      if (!graph.findOutput(name)) throw new IrError(`interpret: no output named "${name}"`);
    }
  }
  const values = evaluate(wanted.map((o) => o.node), inputs, options.precision ?? "f64", graph.inputs);
  const result: Record<string, Tensor> = {};
  for (const o of wanted) result[o.name] = values.get(o.node) as Tensor;
  return result;
}
