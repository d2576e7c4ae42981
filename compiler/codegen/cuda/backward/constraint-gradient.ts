import { Builder } from "../../../ir/builder.js";
import { Graph } from "../../../ir/graph.js";
import { reachableNodes } from "../../../ir/interpret.js";
import type { Node } from "../../../ir/node.js";
import { isConcreteShape } from "../../../ir/shape.js";
import { appendGradients } from "../../../passes/autodiff.js";
import { OPTIMIZATION_PIPELINE, runPipeline } from "../../../passes/pipeline.js";
import { CudaCodegenError } from "../emit-constraint.js";

/** The reverse-mode graph of one per-token constraint, packed for `emitConstraintFunction`. */
export interface ConstraintGradientGraph {
  /**
   * Input `L [kL + kH]`: the logits (row-major, kL values) followed by the cotangent of
   * the result (kH values); output `H [kL]`: the cotangent of the logits. The names are
   * those the forward emitter expects, so the same templates, liveness and `#line`
   * handling produce the backward function.
   */
  readonly graph: Graph;
  readonly logits: number;
  readonly result: number;
}

const count = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Differentiates a per-token constraint graph (input `L`, output `H`, concrete shapes:
 * built with batch `[]`) with the IR's reverse-mode autodiff. The forward nodes are
 * copied in front of the gradient, so the emitted function recomputes the whole forward
 * (every Sinkhorn iteration) in registers and local arrays, then walks it backwards:
 * nothing per iteration is stored between kernels. A constraint that ignores its
 * logits gets a zero gradient.
 */
export function constraintGradientGraph(forward: Graph): ConstraintGradientGraph {
  const h = forward.findOutput("H");
  if (!h || forward.outputs.length !== 1) throw new CudaCodegenError("constraint graph must have exactly one output named H");
  const l = forward.findInput("L");
  if (!l) throw new CudaCodegenError("constraint graph has no input L");
  if (!isConcreteShape(l.shape) || !isConcreteShape(h.shape)) throw new CudaCodegenError("constraint graph shapes must be concrete (build it with batch [])");
  const kL = count(l.shape);
  const kH = count(h.shape);
  const graph = new Graph();
  const b = new Builder(graph, { dtype: h.dtype });
  const packed = b.at(l.span).input("L", [kL + kH], l.dtype);
  const logits = b.reshape(b.slice(packed, 0, 0, kL), l.shape);
  const seed = b.reshape(b.slice(packed, 0, kL, kL + kH), h.shape);
  const copies = new Map<Node, Node>([[l, logits]]);
  for (const node of reachableNodes([h])) {
    if (node === l) continue;
    if (node.op === "input") throw new CudaCodegenError(`constraint graph has an input "${String(node.attrs["name"])}"; only L is allowed`);
    const inputs = node.inputs.map((i) => copies.get(i) as Node);
    copies.set(node, graph.node(node.op, inputs, node.attrs, { shape: node.shape, dtype: node.dtype, ...(node.span ? { span: node.span } : {}) }));
  }
  const [grad] = appendGradients(b, copies.get(h) as Node, seed, [logits]);
  graph.output("H", b.reshape(grad as Node, [kL]));
  return { graph: runPipeline(graph, OPTIMIZATION_PIPELINE), logits: kL, result: kH };
}
