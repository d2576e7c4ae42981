import type { Graph } from "../ir/graph.js";
import { evaluate } from "../ir/interpret.js";
import type { Node } from "../ir/node.js";
import { roundTo } from "../ir/scalar-math.js";
import { isConcreteShape, numel } from "../ir/shape.js";
import type { Tensor } from "../ir/tensor.js";
import { rebuildGraph } from "./rebuild.js";

/** Results larger than this stay as computations: a huge literal is worse than a kernel. */
export const MAX_FOLDED_ELEMENTS = 4096;

function isLiteral(node: Node): boolean {
  return node.op === "const" || node.op === "eye";
}

/**
 * Replaces each node whose inputs are all literals by a `const` of its value, computed
 * by the reference interpreter in float64 and rounded to the node's dtype (so an f32
 * node folds to what an f32 kernel would store). Runs bottom-up, so whole literal
 * subtrees collapse. Leaves (`eye`, `const`) themselves are kept as they are.
 */
export function foldConstants(graph: Graph): Graph {
  return rebuildGraph(graph, {
    rewrite: (node, b) => {
      if (node.inputs.length === 0 || !node.inputs.every(isLiteral)) return undefined;
      if (!isConcreteShape(node.shape) || (numel(node.shape) as number) > MAX_FOLDED_ELEMENTS) return undefined;
      const value = evaluate([node], {}).get(node) as Tensor;
      return b.constant(Array.from(value.data, (v) => roundTo(node.dtype, v)), node.shape, node.dtype);
    },
  }).graph;
}
