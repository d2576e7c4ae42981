import { formatAttrs, formatType } from "./format.js";
import type { RawGraph, RawNode } from "./node.js";

export interface PrintOptions {
  /** Append `loc("file", start, end)` to nodes that carry a source span. */
  readonly spans?: boolean;
}

/** `%3 = div(%1, %2) : f64[T, 4, 4]`, attrs as `{axis=-1, keepdims=true}` before the type. */
export function printNode(node: RawNode, options: PrintOptions = {}): string {
  const args = node.inputs.map((i) => `%${i.id}`).join(", ");
  const attrs = formatAttrs(node.attrs);
  const loc = options.spans && node.span ? ` loc(${JSON.stringify(node.span.file)}, ${node.span.start}, ${node.span.end})` : "";
  return `%${node.id} = ${node.op}(${args})${attrs ? ` ${attrs}` : ""} : ${formatType(node.dtype, node.shape)}${loc}`;
}

/**
 * The textual form of a graph: one line per node in order, then one `output "name" = %id`
 * line per output. Deterministic: it depends only on ids, ops, attrs and types.
 */
export function printGraph(graph: RawGraph, options: PrintOptions = {}): string {
  const lines = graph.nodes.map((n) => printNode(n, options));
  for (const o of graph.outputs) lines.push(`output ${JSON.stringify(o.name)} = %${o.node.id}`);
  return lines.join("\n") + "\n";
}
