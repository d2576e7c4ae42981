import { Builder } from "../ir/builder.js";
import { Graph } from "../ir/graph.js";
import { reachableNodes } from "../ir/interpret.js";
import type { Node } from "../ir/node.js";
import { IrError } from "../ir/errors.js";
import { formatType } from "../ir/format.js";
import { shapesEqual } from "../ir/shape.js";

/**
 * Offered a node already copied into the new graph (its inputs are new-graph nodes);
 * returns a replacement of the same type built with `b`, or undefined to keep it.
 */
export type NodeRewriter = (node: Node, b: Builder) => Node | undefined;

export interface RebuildOptions {
  /** Keep nodes no output depends on (default false: rebuilding is also dead-code elimination). */
  readonly keepDead?: boolean;
  readonly rewrite?: NodeRewriter;
}

export interface Rebuilt {
  readonly graph: Graph;
  /** Old node -> its counterpart in the new graph. */
  readonly map: ReadonlyMap<Node, Node>;
}

/**
 * Copies a graph through the factory of a fresh one, in order. Because the factory
 * hash-conses, nodes that became equal (after a rewrite merged their inputs) collapse
 * into one: this is how CSE happens after rewrites. Ids come out dense again.
 */
export function rebuildGraph(graph: Graph, options: RebuildOptions = {}): Rebuilt {
  const next = new Graph();
  const b = new Builder(next);
  const map = new Map<Node, Node>();
  const order = options.keepDead ? graph.nodes : reachableNodes(graph.outputs.map((o) => o.node));
  for (const node of order) {
    const inputs = node.inputs.map((i) => map.get(i) as Node);
    let copy = next.node(node.op, inputs, node.attrs, { shape: node.shape, dtype: node.dtype, ...(node.span ? { span: node.span } : {}) });
    if (options.rewrite) {
      const replacement = options.rewrite(copy, b.at(node.span));
      if (replacement && replacement !== copy) {
        if (replacement.dtype !== copy.dtype || !shapesEqual(replacement.shape, copy.shape)) {
          throw new IrError(`rewrite of %${node.id} (${node.op}) changed its type from ${formatType(copy.dtype, copy.shape)} to ${formatType(replacement.dtype, replacement.shape)}`);
        }
        copy = replacement;
      }
    }
    map.set(node, copy);
  }
  for (const o of graph.outputs) next.output(o.name, map.get(o.node) as Node);
  return { graph: next, map };
}
