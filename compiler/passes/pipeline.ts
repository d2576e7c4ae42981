import { IrError } from "../ir/errors.js";
import type { Graph } from "../ir/graph.js";
import { verifyGraph } from "../ir/verify.js";
import { eliminateCommonSubexpressions } from "./eliminate-common-subexpressions.js";
import { eliminateDeadCode } from "./eliminate-dead-code.js";
import { foldConstants } from "./fold-constants.js";
import { simplify } from "./simplify.js";

export interface Pass {
  readonly name: string;
  /** Why the pass is here, and here in the order. */
  readonly reason: string;
  readonly run: (graph: Graph) => Graph;
}

/** The IR optimisation pipeline, in order. */
export const OPTIMIZATION_PIPELINE: readonly Pass[] = [
  { name: "fold-constants", reason: "literal subtrees (`(eye(n) - 1) * 8` of an init) become one const, so later rules see plain literals", run: foldConstants },
  { name: "simplify", reason: "exact algebraic identities; after folding so `mul(x, c)` sees c as a literal", run: simplify },
  { name: "cse", reason: "rewrites can make distinct nodes equal; rebuilding merges them", run: eliminateCommonSubexpressions },
  { name: "dce", reason: "last, to drop everything the earlier passes orphaned and unused inputs", run: eliminateDeadCode },
];

export interface PipelineHooks {
  /** Verify the graph after every pass and throw IrError naming the pass on a problem. */
  readonly verify?: boolean;
  /** Called with each pass's result (for `--emit ir` after a named pass, or timing). */
  readonly afterPass?: (pass: Pass, graph: Graph) => void;
}

export function runPipeline(graph: Graph, passes: readonly Pass[] = OPTIMIZATION_PIPELINE, hooks: PipelineHooks = {}): Graph {
  let current = graph;
  for (const pass of passes) {
    current = pass.run(current);
    if (hooks.verify) {
      const problems = verifyGraph(current);
      if (problems.length > 0) throw new IrError(`after pass ${pass.name}:\n${problems.map((p) => `  ${p.message}`).join("\n")}`);
    }
    hooks.afterPass?.(pass, current);
  }
  return current;
}
