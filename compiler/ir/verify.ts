import { checkNode } from "./check.js";
import { IrError } from "./errors.js";
import type { RawGraph, RawNode } from "./node.js";

export interface VerifyProblem {
  /** The node at fault; undefined for graph-level problems (outputs). */
  readonly nodeId?: number;
  readonly message: string;
}

/**
 * Checks a whole graph's invariants and lists every problem found (it does not stop at
 * the first): ids are unique, every input is a node of the graph defined before its use,
 * each node satisfies its op's arity, attr, shape and dtype rules (the same rules the
 * factory enforces), input names are unique, and outputs name nodes of the graph once.
 * Nodes with a broken input are not checked further (their types would only cascade).
 */
export function verifyGraph(graph: RawGraph): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const inGraph = new Set<RawNode>(graph.nodes);
  const defined = new Set<RawNode>();
  const ids = new Set<number>();
  const inputNames = new Map<string, number>();

  for (const node of graph.nodes) {
    const report = (message: string): void => {
      problems.push({ nodeId: node.id, message: `%${node.id} (${node.op}): ${message}` });
    };
    if (ids.has(node.id)) report(`id %${node.id} is used by more than one node`);
    ids.add(node.id);

    let inputsOk = true;
    for (const input of node.inputs) {
      if (!inGraph.has(input)) {
        report(`input %${input.id} is not defined in the graph`);
        inputsOk = false;
      } else if (!defined.has(input)) {
        report(`input %${input.id} is used before it is defined`);
        inputsOk = false;
      }
    }
    defined.add(node);
    if (!inputsOk) continue;

    try {
      checkNode({ op: node.op, inputs: node.inputs, attrs: node.attrs, shape: node.shape, dtype: node.dtype });
    } catch (e) {
      report(e instanceof Error ? e.message : String(e));
    }
    if (node.op === "input" && typeof node.attrs["name"] === "string") {
      const name = node.attrs["name"];
      const first = inputNames.get(name);
      if (first !== undefined) report(`input name "${name}" is already used by %${first}`);
      else inputNames.set(name, node.id);
    }
  }

  const outputNames = new Set<string>();
  for (const o of graph.outputs) {
    if (outputNames.has(o.name)) problems.push({ message: `output "${o.name}" is defined twice` });
    outputNames.add(o.name);
    if (!inGraph.has(o.node)) problems.push({ message: `output "${o.name}" refers to %${o.node.id}, which is not in the graph` });
  }
  return problems;
}

/** Throws with every problem listed; for tests and pass pipelines run with checking on. */
export function assertValidGraph(graph: RawGraph, context = "graph"): void {
  const problems = verifyGraph(graph);
  if (problems.length > 0) {
    throw new IrError(`${context} failed verification:\n${problems.map((p) => `  ${p.message}`).join("\n")}`);
  }
}
