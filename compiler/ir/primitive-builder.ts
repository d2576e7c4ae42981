import type { Span } from "../source/span.js";
import type { DType } from "./dtype.js";
import { irAssert } from "./errors.js";
import { Graph } from "./graph.js";
import type { Attrs, Node } from "./node.js";
import type { OpName } from "./op-names.js";
import { isConcreteShape, type Shape } from "./shape.js";

/** A tensor operand, or a plain number that becomes a scalar const of the other operand's dtype. */
export type Operand = Node | number;

export interface BuilderOptions {
  /** dtype of inputs and literals when nothing else decides it. Default f32 (design §1: coefficient maths is fp32). */
  readonly dtype?: DType;
}

/**
 * One method per primitive op, over a `Graph`. Methods are thin: validation, shape
 * inference and sharing all happen in `Graph.node`. `at(span)` gives a builder that
 * stamps a source span on what it creates, so a lowering can write
 * `b.at(expr.span).div(m, s)`.
 */
export class PrimitiveBuilder {
  readonly graph: Graph;
  readonly dtype: DType;
  protected span: Span | undefined;

  constructor(graph: Graph = new Graph(), options: BuilderOptions = {}) {
    this.graph = graph;
    this.dtype = options.dtype ?? "f32";
    this.span = undefined;
  }

  /** The same builder (same graph), stamping `span` on new nodes. */
  at(span: Span | undefined): this {
    const copy = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(copy, this, { span });
    return copy;
  }

  protected make(op: OpName, inputs: readonly Node[], attrs: Attrs = {}, extra: { shape?: Shape; dtype?: DType } = {}): Node {
    return this.graph.node(op, inputs, attrs, { ...extra, ...(this.span ? { span: this.span } : {}) });
  }

  // ---- leaves -------------------------------------------------------------------

  input(name: string, shape: Shape, dtype: DType = this.dtype): Node {
    return this.make("input", [], { name }, { shape, dtype });
  }

  /** A literal: one number (splat) or row-major values for a concrete shape. */
  constant(values: number | readonly number[], shape: Shape = [], dtype: DType = this.dtype): Node {
    return this.make("const", [], { value: typeof values === "number" ? [values] : values }, { shape, dtype });
  }

  scalar(value: number, dtype: DType = this.dtype): Node {
    return this.constant(value, [], dtype);
  }

  /** `value` everywhere; a symbolic shape becomes `broadcast_to` of a scalar. */
  full(shape: Shape, value: number, dtype: DType = this.dtype): Node {
    if (isConcreteShape(shape)) return this.constant(value, shape, dtype);
    return this.broadcastTo(this.scalar(value, dtype), shape);
  }

  zeros(shape: Shape, dtype: DType = this.dtype): Node {
    return this.full(shape, 0, dtype);
  }

  ones(shape: Shape, dtype: DType = this.dtype): Node {
    return this.full(shape, 1, dtype);
  }

  eye(n: number, dtype: DType = this.dtype): Node {
    return this.make("eye", [], {}, { shape: [n, n], dtype });
  }

  // ---- elementwise ---------------------------------------------------------------

  private lift(x: Operand, like: Operand): Node {
    if (typeof x !== "number") return x;
    return this.scalar(x, typeof like === "number" ? this.dtype : like.dtype);
  }

  private unary(op: OpName, x: Node): Node {
    return this.make(op, [x]);
  }

  private binary(op: OpName, a: Operand, b: Operand): Node {
    return this.make(op, [this.lift(a, b), this.lift(b, a)]);
  }

  neg(x: Node): Node { return this.unary("neg", x); }
  exp(x: Node): Node { return this.unary("exp", x); }
  log(x: Node): Node { return this.unary("log", x); }
  sigmoid(x: Node): Node { return this.unary("sigmoid", x); }
  tanh(x: Node): Node { return this.unary("tanh", x); }
  abs(x: Node): Node { return this.unary("abs", x); }
  sign(x: Node): Node { return this.unary("sign", x); }
  sqrt(x: Node): Node { return this.unary("sqrt", x); }
  rsqrt(x: Node): Node { return this.unary("rsqrt", x); }
  square(x: Node): Node { return this.unary("square", x); }
  relu(x: Node): Node { return this.unary("relu", x); }
  softplus(x: Node): Node { return this.unary("softplus", x); }
  recip(x: Node): Node { return this.unary("recip", x); }

  add(a: Operand, b: Operand): Node { return this.binary("add", a, b); }
  sub(a: Operand, b: Operand): Node { return this.binary("sub", a, b); }
  mul(a: Operand, b: Operand): Node { return this.binary("mul", a, b); }
  div(a: Operand, b: Operand): Node { return this.binary("div", a, b); }
  max(a: Operand, b: Operand): Node { return this.binary("max", a, b); }
  min(a: Operand, b: Operand): Node { return this.binary("min", a, b); }
  pow(a: Operand, b: Operand): Node { return this.binary("pow", a, b); }

  gt(a: Operand, b: Operand): Node { return this.binary("gt", a, b); }
  ge(a: Operand, b: Operand): Node { return this.binary("ge", a, b); }
  lt(a: Operand, b: Operand): Node { return this.binary("lt", a, b); }
  le(a: Operand, b: Operand): Node { return this.binary("le", a, b); }
  eq(a: Operand, b: Operand): Node { return this.binary("eq", a, b); }

  where(cond: Node, a: Operand, b: Operand): Node {
    return this.make("where", [cond, this.lift(a, b), this.lift(b, a)]);
  }

  // ---- reductions and normalisation ---------------------------------------------

  /** `axes` default to all axes; reducing a scalar over no axes returns it unchanged. */
  private reduce(op: OpName, x: Node, axes: readonly number[] | undefined, keepdims: boolean): Node {
    const all = axes ?? x.shape.map((_, i) => i);
    if (all.length === 0) return x;
    return this.make(op, [x], { axes: all, keepdims });
  }

  sum(x: Node, axes?: readonly number[], keepdims = false): Node { return this.reduce("sum", x, axes, keepdims); }
  mean(x: Node, axes?: readonly number[], keepdims = false): Node { return this.reduce("mean", x, axes, keepdims); }
  amax(x: Node, axes?: readonly number[], keepdims = false): Node { return this.reduce("amax", x, axes, keepdims); }
  amin(x: Node, axes?: readonly number[], keepdims = false): Node { return this.reduce("amin", x, axes, keepdims); }
  logsumexp(x: Node, axes?: readonly number[], keepdims = false): Node { return this.reduce("logsumexp", x, axes, keepdims); }

  softmax(x: Node, axis = -1): Node {
    return this.make("softmax", [x], { axis });
  }

  matmul(a: Node, b: Node): Node {
    return this.make("matmul", [a, b]);
  }

  // ---- movement and conversion ---------------------------------------------------

  transpose(x: Node, perm: readonly number[]): Node {
    return this.make("transpose", [x], { perm });
  }

  reshape(x: Node, shape: Shape): Node {
    return this.make("reshape", [x], {}, { shape });
  }

  broadcastTo(x: Node, shape: Shape): Node {
    return this.make("broadcast_to", [x], {}, { shape });
  }

  slice(x: Node, axis: number, start: number, end: number): Node {
    return this.make("slice", [x], { axis, start, end });
  }

  concat(xs: readonly Node[], axis: number): Node {
    irAssert(xs.length > 0, "concat of nothing");
    return this.make("concat", xs, { axis });
  }

  cast(x: Node, dtype: DType): Node {
    return this.make("cast", [x], {}, { dtype });
  }
}
