import type { ConnectionDecl, Expr, MapMode, ModelDecl } from "../../grammar/ast.js";
import type { Span } from "../source/span.js";
import type { ConstraintSignature } from "./constraints.js";
import type { Poly } from "./poly.js";
import type { Shape, Value } from "./values.js";

/*
 * What semantic analysis hands to the later phases: every connection and model
 * with its fields resolved to values, defaults filled in, and each map's
 * constraint with its arguments and logits shape.
 */

export type Slot = "pre" | "post" | "res";
export const SLOTS: readonly Slot[] = ["pre", "post", "res"];

export interface CheckedMap {
  readonly slot: Slot;
  readonly mode: MapMode;
  readonly constraint: ConstraintSignature;
  /** Compile-time arguments of the constraint (defaults not included). */
  readonly args: ReadonlyMap<string, Value>;
  readonly logitsShape: Shape;
  /** Number of logits: the width of this map's projection. */
  readonly k: Poly;
  /** False when the constraint ignores its logits: the map then gets no projection. */
  readonly usesLogits: boolean;
  /** The bias initialiser, an expression over `n`, `layer` and the connection's parameters. */
  readonly init?: Expr;
  readonly span: Span;
}

export type NormKind = "rms" | "rms_stream" | "none";
export type Projection = "flat" | "per_stream";

export interface CheckedConnection {
  readonly decl: ConnectionDecl;
  readonly name: string;
  /** Values of the connection's parameters, defaults filled in. */
  readonly args: ReadonlyMap<string, Value>;
  readonly streams: Poly;
  readonly norm: { readonly kind: NormKind; readonly eps: number };
  readonly alpha: number;
  readonly projection: Projection;
  readonly maps: Readonly<Record<Slot, CheckedMap>>;
}

export type SublayerKind = "attention" | "mlp" | "identity";
export type Activation = "gelu" | "silu" | "swiglu" | "relu";

export interface CheckedSublayer {
  readonly kind: SublayerKind;
  /** `heads`, `kv_heads`, `causal` for attention; `hidden`, `act` for mlp. */
  readonly args: Readonly<Record<string, number | boolean | string>>;
  readonly connection: CheckedConnection;
  readonly span: Span;
}

export type Expand = "repeat" | "learned";
export type Collapse = "gated" | "sum" | "mean" | "first";

export interface CheckedModel {
  readonly decl: ModelDecl;
  readonly name: string;
  readonly vocab: number;
  readonly dim: number;
  readonly context: number;
  readonly layers: number;
  readonly connection: CheckedConnection;
  readonly expand: Expand;
  readonly collapse: Collapse;
  readonly normEps: number;
  readonly tieEmbeddings: boolean;
  readonly dropout: number;
  /** The sublayers of one layer, in order; the model runs `layers` copies of it. */
  readonly block: readonly CheckedSublayer[];
}
