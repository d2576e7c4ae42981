import type { DType } from "./dtype.js";
import type { Attrs } from "./node.js";
import type { OpName } from "./op-names.js";
import type { Shape } from "./shape.js";

export interface TensorType {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** How an attribute is typed; `ints` and `numbers` are arrays. */
export type AttrKind = "int" | "ints" | "number" | "numbers" | "bool" | "string";

export interface AttrSpec {
  readonly kind: AttrKind;
  /** Filled in by canonicalisation when absent, so equal nodes print and hash equal. */
  readonly default?: number | boolean;
}

/**
 * Properties passes and code generators ask about instead of listing op names:
 * - leaf: no inputs, value comes from outside (input) or from attrs (const, eye)
 * - elementwise: output element i depends only on input elements at i (after broadcast)
 * - reduction: reduces an `axes` list, with `keepdims`
 * - movement: only moves/copies elements (transpose, reshape, broadcast, slice, concat)
 * - pure: no side effects, safe to constant-fold and deduplicate (every op today)
 */
export type Trait =
  | "leaf"
  | "elementwise"
  | "unary"
  | "binary"
  | "comparison"
  | "reduction"
  | "normalization"
  | "contraction"
  | "movement"
  | "conversion"
  | "pure";

/**
 * Which parts of the result type are stated at construction instead of inferred
 * (`input` and `const` declare both; `reshape`, `broadcast_to` their shape; `cast` its dtype).
 */
export type Declared = "none" | "shape" | "dtype" | "both";

export interface InferContext {
  readonly inputs: readonly TensorType[];
  readonly attrs: Attrs;
  readonly declared: { readonly shape?: Shape; readonly dtype?: DType };
}

export interface OpDef {
  readonly name: OpName;
  readonly doc: string;
  readonly traits: readonly Trait[];
  /** Exact number of inputs, or the minimum for variadic ops (`concat`). */
  readonly arity: number | { readonly min: number };
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  readonly declares: Declared;
  /** Puts attrs in their one canonical form (negative sorted axes, defaults filled). */
  readonly canonicalize?: (attrs: Attrs, inputs: readonly TensorType[]) => Attrs;
  /** The result type; throws IrError with a readable message when the node is invalid. */
  readonly infer: (ctx: InferContext) => TensorType;
}
