import { isFloatDType } from "../../ir/dtype.js";
import { formatAttrs, formatType } from "../../ir/format.js";
import { Graph } from "../../ir/graph.js";
import { reachableNodes } from "../../ir/interpret.js";
import type { Node } from "../../ir/node.js";
import type { Dim } from "../../ir/shape.js";
import { differentiate, gradientOutputName, seedInputName } from "../../passes/autodiff.js";
import { OPTIMIZATION_PIPELINE, runPipeline } from "../../passes/pipeline.js";
import type { Span } from "../../source/span.js";
import { emitNodes, nodeName, type ModuleData } from "./emit-graph.js";

/*
 * One `tf.customGrad` per coefficient computation (design.md §4.1: "custom gradients
 * where a fused op needs one").
 *
 * Under `tf.grad`, tfjs records every op on its tape and runs each op's registered
 * gradient, which for a Sinkhorn of 20 iterations means hundreds of tiny kernels (the
 * gradient of each division alone dispatches seven). Wrapped in a `tf.customGrad`, the
 * whole computation of one map's coefficients (its projection, alpha, bias and the
 * constraint) is one tape node whose backward is the IR's reverse-mode autodiff of the
 * same nodes, run through the optimisation pipeline (folded, simplified, shared), with the
 * forward values it needs saved rather than recomputed.
 *
 * The region of a map is every node whose uses all lie inside it, walking back from the
 * coefficient output (H_pre, H_post or H_res): what only that output needs. Its inputs are
 * the nodes outside it that it reads (the flattened residual, the norm r, the parameters);
 * constants are created again inside. The forward inside the helper is written from the
 * very nodes `pre` would have computed, so its values are identical; a region is wrapped
 * only when the optimised derivative graph still computes that same forward.
 */

export interface CoefficientRegion {
  /** The coefficient output (the region's result). */
  readonly root: Node;
  /** The nodes computed inside, root included. */
  readonly nodes: ReadonlySet<Node>;
  /** The values it reads from outside (not constants), in id order: the helper's arguments. */
  readonly inputs: readonly Node[];
}

const isConstant = (n: Node): boolean => n.inputs.length === 0 && n.op !== "input";

/**
 * The region of `root` in a graph whose outputs are `outputs`: the nodes all of whose
 * uses lie in the region (walking back in reverse topological order), never an input or
 * another output.
 */
export function coefficientRegion(outputs: readonly Node[], root: Node): CoefficientRegion {
  const live = reachableNodes(outputs);
  const users = new Map<Node, Node[]>();
  for (const node of live) for (const input of node.inputs) users.set(input, [...(users.get(input) ?? []), node]);
  const isOutput = new Set(outputs);
  const nodes = new Set<Node>([root]);
  const ancestors = reachableNodes([root]).reverse();
  for (const node of ancestors) {
    if (node === root || node.op === "input" || isOutput.has(node)) continue;
    const uses = users.get(node) ?? [];
    if (uses.length > 0 && uses.every((u) => nodes.has(u))) nodes.add(node);
  }
  const inputs = new Set<Node>();
  for (const node of nodes) for (const input of node.inputs) if (!nodes.has(input) && !isConstant(input)) inputs.add(input);
  return { root, nodes, inputs: [...inputs].sort((a, b) => a.id - b.id) };
}

/** `T` or `C` as a JavaScript expression over the helper's arguments' shapes, if some argument has it. */
function bindDim(symbol: string, inputs: readonly Node[], names: readonly string[]): string | undefined {
  for (const [i, input] of inputs.entries()) {
    for (const [axis, dim] of input.shape.entries()) {
      if (dim === symbol) return `const ${symbol} = ${names[i]}.shape[${axis}] as number;`;
    }
  }
  for (const [i, input] of inputs.entries()) {
    for (const [axis, dim] of input.shape.entries()) {
      const m = typeof dim === "string" ? new RegExp(`^(\\d+)\\*${symbol}$`).exec(dim.replace(/\s+/g, "")) : null;
      if (m) return `const ${symbol} = (${names[i]}.shape[${axis}] as number) / ${m[1]};`;
    }
  }
  return undefined;
}

const symbolsOf = (nodes: Iterable<Node>): Set<string> => {
  const out = new Set<string>();
  for (const n of nodes) for (const d of n.shape as readonly Dim[]) if (typeof d === "string") for (const s of d.match(/[A-Za-z_]\w*/g) ?? []) out.add(s);
  return out;
};

/** The structural key of a node (as the graph's hash-consing keys it), with its inputs' ids given. */
const keyOf = (n: Node, inputIds: readonly (number | string)[]): string => `${n.op}(${inputIds.join(",")})${formatAttrs(n.attrs)}:${formatType(n.dtype, n.shape)}`;

export interface CustomGradientRequest {
  readonly region: CoefficientRegion;
  /** The helper's name, e.g. `resCoefficients`. */
  readonly name: string;
  /** What the doc comment says the helper computes. */
  readonly summary: string;
  readonly data: ModuleData;
  readonly locate: (span: Span) => string | undefined;
  readonly unspannedLabel: string;
}

/**
 * Declares the `tf.customGrad` helper of a region in `data` and returns the call that
 * replaces the region, or undefined when the region cannot be wrapped (nothing to
 * differentiate, a dimension no argument carries, or an optimised derivative graph whose
 * forward differs from the region's).
 */
export function customGradientHelper(request: CustomGradientRequest): { call: (args: readonly string[]) => string } | undefined {
  const { region } = request;
  const argNames = region.inputs.map(nodeName);
  if (!region.inputs.some((n) => isFloatDType(n.dtype))) return undefined;

  // The region as a graph of its own: inputs named as in the module, constants copied.
  const graph = new Graph();
  const copies = new Map<Node, Node>();
  region.inputs.forEach((input, i) => copies.set(input, graph.node("input", [], { name: argNames[i]! }, { shape: input.shape, dtype: input.dtype })));
  const inside = reachableNodes([region.root]).filter((n) => region.nodes.has(n) || isConstant(n));
  for (const n of inside) {
    copies.set(n, graph.node(n.op, n.inputs.map((i) => copies.get(i)!), n.attrs, { shape: n.shape, dtype: n.dtype, ...(n.span ? { span: n.span } : {}) }));
  }
  graph.output("value", copies.get(region.root)!);
  const wrt = region.inputs.filter((n) => isFloatDType(n.dtype)).map(nodeName);
  const derivative = runPipeline(differentiate(graph, { of: "value", wrt, seed: "input" }), OPTIMIZATION_PIPELINE);

  // Match the derivative graph's forward to the region's nodes (same op, attributes, type
  // and inputs); the backward refers to the matched nodes by their names in the forward.
  const byKey = new Map<string, Node>();
  const idOf = new Map<Node, number | string>(region.inputs.map((n, i) => [n, `in${i}`]));
  for (const n of inside) {
    idOf.set(n, n.id);
    byKey.set(keyOf(n, n.inputs.map((i) => idOf.get(i)!)), n);
  }
  const forwardRoot = derivative.findOutput("value")!;
  const matched = new Map<Node, Node>();
  for (const n of reachableNodes([forwardRoot])) {
    if (n.op === "input") {
      const original = region.inputs[argNames.indexOf(n.attrs["name"] as string)];
      if (!original) return undefined;
      matched.set(n, original);
      continue;
    }
    const original = byKey.get(keyOf(n, n.inputs.map((i) => idOf.get(matched.get(i)!) ?? -1)));
    if (!original) return undefined;
    matched.set(n, original);
  }
  if (matched.get(forwardRoot) !== region.root) return undefined;

  // Symbolic dims come from the arguments' shapes.
  const bindings: [string, string][] = [];
  for (const symbol of [...symbolsOf([...derivative.nodes, ...inside])].sort()) {
    const line = bindDim(symbol, region.inputs, argNames);
    if (!line) return undefined;
    bindings.push([symbol, line]);
  }

  const forward = emitNodes({ roots: [region.root], given: new Map(region.inputs.map((n, i) => [n, argNames[i]!])), data: request.data, locate: request.locate, unspannedLabel: request.unspannedLabel });
  // The backward: given the seed, the arguments and the forward's values (constants are made again).
  const seed = derivative.findInput(seedInputName("value"))!;
  const given = new Map<Node, string>([[seed, "dy"]]);
  for (const [n, original] of matched) if (!isConstant(n)) given.set(n, forward.names.get(original)!);
  const gradients = wrt.map((name) => derivative.findOutput(gradientOutputName(name))!);
  const backward = emitNodes({
    roots: gradients,
    given,
    data: request.data,
    locate: request.locate,
    unspannedLabel: request.unspannedLabel,
    rename: (n) => `d${nodeName(n).replace(/^./, (c) => c.toUpperCase())}`,
    implicitBroadcast: true,
  });
  const savedNodes = [...new Set(backward.referenced.filter((n) => n !== seed && given.has(n)))].sort((a, b) => a.id - b.id);
  const saved = savedNodes.map((n) => given.get(n)!);
  const gradientOf = new Map(wrt.map((name, i) => [name, gradients[i]!]));
  const results = region.inputs.map((n, i) => {
    const g = gradientOf.get(argNames[i]!);
    return g ? backward.names.get(g)! : `tf.zerosLike(${argNames[i]})`;
  });

  const tensors = request.data.helper(
    "Tensors",
    `/** A tuple type of N tensors (the arguments and saved values of a custom gradient). */\ntype Tensors<N extends number, T extends tf.Tensor[] = []> = T["length"] extends N ? T : Tensors<N, [...T, tf.Tensor]>;`,
  );
  const indent = (lines: readonly string[], by: string) => lines.map((l) => by + l);
  const declaration = [
    `/**`,
    ` * ${request.summary}, as one tape node: the forward as written in the source,`,
    ` * the gradient from the IR's reverse-mode autodiff of the same computation, reusing the`,
    ` * forward values it saves.`,
    ` */`,
    `const ${request.name} = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {`,
    `  const [${argNames.join(", ")}, save] = args as [...${tensors}<${argNames.length}>, tf.GradSaveFunc];`,
    ...indent(bindings.filter(([symbol]) => [...forward.lines, ...backward.lines].some((l) => !l.startsWith("//") && new RegExp(`\\b${symbol}\\b`).test(l))).map(([, line]) => line), "  "),
    ...indent(forward.lines, "  "),
    `  save([${saved.join(", ")}]);`,
    `  return {`,
    `    value: ${forward.names.get(region.root)!},`,
    `    gradFunc: (dy: tf.Tensor, savedTensors: tf.Tensor[]) => {`,
    ...(saved.length > 0 ? [`      const [${saved.join(", ")}] = savedTensors as ${tensors}<${saved.length}>;`] : []),
    ...indent(backward.lines, "      "),
    `      return [${results.join(", ")}];`,
    `    },`,
    `  };`,
    `});`,
  ].join("\n");
  request.data.helper(request.name, declaration);
  return { call: (args) => `${request.name}(${args.join(", ")})` };
}
