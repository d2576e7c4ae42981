import type { Graph } from "../../compiler/ir/graph.js";
import { OPTIMIZATION_PIPELINE, runPipeline, type Pass } from "../../compiler/passes/pipeline.js";
import { assertValidGraph } from "../../compiler/ir/verify.js";

/** Runs passes with the verifier after each one (design §3: the verifier runs after every pass in tests). */
export function runVerified(graph: Graph, passes: readonly Pass[] = OPTIMIZATION_PIPELINE): Graph {
  assertValidGraph(graph, "input graph");
  return runPipeline(graph, passes, { verify: true });
}

/** A single pass as a verified pipeline of one. */
export function runPassVerified(graph: Graph, name: string, run: (g: Graph) => Graph): Graph {
  return runVerified(graph, [{ name, reason: "test", run }]);
}
