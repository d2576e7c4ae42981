import type { Span } from "../source/span.js";
import type { DType } from "./dtype.js";
import type { OpName } from "./op-names.js";
import type { Shape } from "./shape.js";

/** Attribute values: numbers (axes, literal data), flags, names. No nested objects. */
export type AttrValue = number | boolean | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;

/**
 * The one IR node type. Nodes are immutable and created only by `Graph.node`, which
 * validates them and hash-conses them: within a graph, equal (op, inputs, attrs, type)
 * means the same object. `id` is the creation index in its graph (so printing never
 * depends on object identity). `span` points back into the `.mhc` source for
 * diagnostics and `#line` directives; it is not part of the node's identity.
 */
export interface Node {
  readonly id: number;
  readonly op: OpName;
  readonly inputs: readonly Node[];
  readonly attrs: Attrs;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly span?: Span;
}

/**
 * The same structure without any guarantee: what the textual parser produces before
 * validation and what the verifier accepts, so that malformed IR can be written down
 * and checked (unknown ops, dangling inputs, wrong shapes).
 */
export interface RawNode {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly RawNode[];
  readonly attrs: Attrs;
  readonly shape: Shape;
  readonly dtype: string;
  readonly span?: Span;
}

/** A named result of a graph. Order is significant (it is the printing order). */
export interface Output<N extends RawNode = Node> {
  readonly name: string;
  readonly node: N;
}

export interface RawGraph {
  readonly nodes: readonly RawNode[];
  readonly outputs: readonly Output<RawNode>[];
}
