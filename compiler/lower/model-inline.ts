import type { Builder } from "../ir/builder.js";
import { IrError } from "../ir/errors.js";
import type { Graph } from "../ir/graph.js";
import { reachableNodes } from "../ir/interpret.js";
import type { Node } from "../ir/node.js";
import { evalDim, formatShape, shapesEqual, type DimBindings } from "../ir/shape.js";

/**
 * Copies a graph (or the part of it some outputs need) into another graph, the way a
 * compiler inlines a function: each `input` is replaced by the node bound to its name,
 * symbolic dimensions (`T`) become the sizes in `dims`, and every other node is rebuilt
 * through the target graph's factory (so it is checked again, and hash-consed with what
 * is already there). One `Inliner` remembers what it copied, so asking for a second
 * output later (the sublayer's `y` after its `u`) reuses the shared nodes instead of
 * copying them twice.
 */
export class Inliner {
  private readonly copied = new Map<Node, Node>();

  constructor(
    private readonly b: Builder,
    private readonly source: Graph,
    private readonly dims: DimBindings,
  ) {}

  /** Binds (or rebinds, before first use) a source input to a node of the target graph. */
  bind(name: string, node: Node): void {
    const input = this.source.findInput(name);
    if (!input) throw new IrError(`inline: the graph has no input "${name}"`);
    const shape = input.shape.map((d) => evalDim(d, this.dims));
    if (!shapesEqual(shape, node.shape) || node.dtype !== input.dtype) {
      throw new IrError(`inline: input "${name}" is ${input.dtype}${formatShape(shape)}, bound to ${node.dtype}${formatShape(node.shape)}`);
    }
    this.copied.set(input, node);
  }

  /** The target-graph node computing the source output `name`. */
  output(name: string): Node {
    const root = this.source.findOutput(name);
    if (!root) throw new IrError(`inline: the graph has no output "${name}"`);
    for (const node of reachableNodes([root])) {
      if (this.copied.has(node)) continue;
      if (node.op === "input") throw new IrError(`inline: input "${String(node.attrs["name"])}" is not bound`);
      const inputs = node.inputs.map((i) => this.copied.get(i) as Node);
      const shape = node.shape.map((d) => evalDim(d, this.dims));
      const copy = this.b.graph.node(node.op, inputs, node.attrs, { shape, dtype: node.dtype, ...(node.span ? { span: node.span } : {}) });
      this.copied.set(node, copy);
    }
    return this.copied.get(root) as Node;
  }
}
