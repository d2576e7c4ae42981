import type { Graph } from "../ir/graph.js";
import { reachableNodes } from "../ir/interpret.js";
import { IrError } from "../ir/errors.js";
import { rebuildGraph } from "./rebuild.js";

/**
 * Drops every node no output depends on, unused inputs included (the graph's interface
 * shrinks: a constraint that ignores its logits loses its logits input), renumbering
 * the rest. Other passes drop dead nodes too but keep every input.
 */
export function eliminateDeadCode(graph: Graph): Graph {
  return rebuildGraph(graph, { keepUnusedInputs: false }).graph;
}

/**
 * Whether output `outputName` depends on input `inputName`. A constraint whose result
 * does not depend on its logits gets no projection (design §2.2); the lowering asks this.
 */
export function outputDependsOnInput(graph: Graph, outputName: string, inputName: string): boolean {
  const output = graph.findOutput(outputName);
  if (!output) throw new IrError(`no output named "${outputName}"`);
  const input = graph.findInput(inputName);
  if (!input) return false;
  return reachableNodes([output]).includes(input);
}

/** Names of the inputs no output depends on, in declaration order. */
export function unusedInputs(graph: Graph): string[] {
  const live = new Set(reachableNodes(graph.outputs.map((o) => o.node)));
  return graph.inputs.filter((i) => !live.has(i)).map((i) => i.attrs["name"] as string);
}
