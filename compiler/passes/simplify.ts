import type { Graph } from "../ir/graph.js";
import { rewriteGraph } from "./rewrite.js";
import { SIMPLIFY_RULES } from "./simplify-rules.js";

/** Exact algebraic simplification (the rule table in simplify-rules.ts). */
export function simplify(graph: Graph): Graph {
  return rewriteGraph(graph, SIMPLIFY_RULES, "simplify");
}
