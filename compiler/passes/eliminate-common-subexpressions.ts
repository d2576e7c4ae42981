import type { Graph } from "../ir/graph.js";
import { rebuildGraph } from "./rebuild.js";

/**
 * CSE. Building through the hash-consing factory already shares equal nodes, so
 * re-building is the whole pass: nodes that became equal after a rewrite (their inputs
 * were merged) now get the same key and collapse.
 */
export function eliminateCommonSubexpressions(graph: Graph): Graph {
  return rebuildGraph(graph).graph;
}
