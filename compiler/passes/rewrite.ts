import type { Builder } from "../ir/builder.js";
import { IrError } from "../ir/errors.js";
import type { Graph } from "../ir/graph.js";
import type { Node } from "../ir/node.js";
import type { OpName } from "../ir/op-names.js";
import { rebuildGraph } from "./rebuild.js";

/**
 * A local rewrite: when a node with op `root` matches, `apply` returns an equivalent
 * node of the same type (built with `b`, whose graph already holds the node's inputs),
 * or undefined. `law` states the identity the rule relies on, with its side conditions.
 */
export interface RewriteRule {
  readonly root: OpName;
  readonly law: string;
  readonly apply: (node: Node, b: Builder) => Node | undefined;
}

const MAX_ROUNDS = 16;
const MAX_STEPS_PER_NODE = 64;

function indexByRoot(rules: readonly RewriteRule[]): Map<OpName, RewriteRule[]> {
  const index = new Map<OpName, RewriteRule[]>();
  for (const rule of rules) index.set(rule.root, [...(index.get(rule.root) ?? []), rule]);
  return index;
}

/**
 * Applies `rules` bottom-up (inputs are rewritten before their users, by rebuilding the
 * graph in order) until none fires, so `neg(neg(neg(neg(x))))` becomes `x`. Throws
 * IrError if the rules do not settle, which would mean two rules undo each other.
 */
export function rewriteGraph(graph: Graph, rules: readonly RewriteRule[], name = "rewrite"): Graph {
  const index = indexByRoot(rules);
  let current = graph;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let fired = false;
    current = rebuildGraph(current, {
      rewrite: (node, b) => {
        let result = node;
        for (let step = 0; step < MAX_STEPS_PER_NODE; step++) {
          const candidates = index.get(result.op) ?? [];
          let next: Node | undefined;
          for (const rule of candidates) {
            next = rule.apply(result, b);
            if (next && next !== result) break;
          }
          if (!next || next === result) return result;
          fired = true;
          result = next;
        }
        throw new IrError(`${name}: rules keep rewriting %${node.id} (${node.op})`);
      },
    }).graph;
    if (!fired) return current;
  }
  throw new IrError(`${name}: no fixpoint after ${MAX_ROUNDS} rounds`);
}
