import type { Node } from "../../ir/node.js";
import { isNormalRange, valueRanges } from "../../ir/value-range.js";
import type { RerolledLoop } from "./reroll.js";

/**
 * Which operands of a constraint graph's nodes are proven normal floats (ir/value-range.ts), so that
 * the templates may take their reciprocal with mhc::rcp_normal (one instruction) instead of
 * mhc::fdiv's full-range division. A node emitted as the body of a rerolled loop stands for every
 * copy, so its operand counts as normal only where it is in every copy.
 */
export type NormalOperand = (node: Node, input: number) => boolean;

export function normalOperands(nodes: readonly Node[], loops: readonly RerolledLoop[]): NormalOperand {
  const ranges = valueRanges(nodes);
  const copies = new Map<Node, Node[]>();
  for (const loop of loops) {
    for (let k = 0; k < loop.period; k++) {
      const all: Node[] = [];
      for (let c = 0; c < loop.count; c++) all.push(nodes[loop.start + c * loop.period + k] as Node);
      copies.set(all[0] as Node, all);
    }
  }
  return (node, input) =>
    (copies.get(node) ?? [node]).every((copy) => {
      const operand = copy.inputs[input];
      const r = operand ? ranges.get(operand) : undefined;
      return r !== undefined && isNormalRange(r);
    });
}
