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
  readonly rewrite?: NodeRewriter;
  /** Keep `input` nodes no output uses (default true: a pass keeps the graph's interface). */
  readonly keepUnusedInputs?: boolean;
}

export interface Rebuilt {
  readonly graph: Graph;
  /** Old node -> its counterpart in the new graph (for the nodes that were kept). */
  readonly map: ReadonlyMap<Node, Node>;
}

function liveNodes(graph: Graph, keepUnusedInputs: boolean): Node[] {
  const live = new Set(reachableNodes(graph.outputs.map((o) => o.node)));
  if (keepUnusedInputs) graph.inputs.forEach((i) => live.add(i));
  return graph.nodes.filter((n) => live.has(n));
}

function copy(graph: Graph, keepUnusedInputs: boolean, rewrite: NodeRewriter | undefined): Rebuilt {
  const next = new Graph();
  const b = new Builder(next);
  const map = new Map<Node, Node>();
  for (const node of liveNodes(graph, keepUnusedInputs)) {
    const inputs = node.inputs.map((i) => map.get(i) as Node);
    let result = next.node(node.op, inputs, node.attrs, { shape: node.shape, dtype: node.dtype, ...(node.span ? { span: node.span } : {}) });
    const replacement = rewrite?.(result, b.at(node.span));
    if (replacement && replacement !== result) {
      if (replacement.dtype !== result.dtype || !shapesEqual(replacement.shape, result.shape)) {
        throw new IrError(`rewrite of %${node.id} (${node.op}) changed its type from ${formatType(result.dtype, result.shape)} to ${formatType(replacement.dtype, replacement.shape)}`);
      }
      result = replacement;
    }
    map.set(node, result);
  }
  for (const o of graph.outputs) next.output(o.name, map.get(o.node) as Node);
  return { graph: next, map };
}

/**
 * Copies the live part of a graph (what outputs depend on, plus inputs) through the
 * factory of a fresh graph, in order, optionally rewriting each node. Because the
 * factory hash-conses, nodes that became equal collapse into one (this is how CSE
 * happens after rewrites), and ids come out dense. With a rewriter, the nodes it
 * replaced are garbage in the first copy, so a second plain copy drops them.
 */
export function rebuildGraph(graph: Graph, options: RebuildOptions = {}): Rebuilt {
  const keepInputs = options.keepUnusedInputs ?? true;
  const first = copy(graph, keepInputs, options.rewrite);
  if (!options.rewrite) return first;
  const second = copy(first.graph, keepInputs, undefined);
  const map = new Map<Node, Node>();
  for (const [old, mid] of first.map) {
    const final = second.map.get(mid);
    if (final) map.set(old, final);
  }
  return { graph: second.graph, map };
}
