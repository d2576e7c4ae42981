import type { CallExpr, Expr, Stmt } from "../../grammar/ast.js";
import type { Builder } from "../ir/builder.js";
import { IrError } from "../ir/errors.js";
import type { Node } from "../ir/node.js";
import { factorial } from "../ir/permutations.js";
import type { ConstraintSignature } from "../sema/constraints.js";
import { isUnaryBuiltin, unaryFolds } from "../sema/folds.js";
import type { FileScope } from "../sema/symbols.js";
import { num, type Lowered } from "./values.js";

/** Resolves a constraint called from a body to its signature (sema already checked the call). */
export type ConstraintResolver = (name: string, from: FileScope) => ConstraintSignature | undefined;

/**
 * Lowers checked expressions and statements into the IR. Sema has already
 * proven the program well typed and shaped, so a mismatch here is a compiler
 * bug (an `IrError`), not a user error. Compile-time arithmetic is folded;
 * `repeat` is unrolled (hash-consing keeps the unrolled graph a DAG).
 */
export class ExprLowering {
  constructor(
    private readonly b: Builder,
    /** Leading token axes of batched tensors. */
    private readonly batchDims: number,
    private readonly resolve: ConstraintResolver,
    private readonly scope: FileScope,
    private readonly n: number,
  ) {}

  expr(e: Expr, env: Map<string, Lowered>): Lowered {
    const b = this.b.at(e.span);
    switch (e.kind) {
      case "Number":
        return num(e.value);
      case "Bool":
        return { kind: "bool", value: e.value };
      case "Name": {
        const v = env.get(e.name);
        if (!v) throw new IrError(`lowering: unbound name \`${e.name}\``);
        return v;
      }
      case "List":
        return { kind: "list", items: e.items.map((i) => this.expr(i, env)) };
      case "Unary": {
        const v = this.expr(e.operand, env);
        return v.kind === "number" ? num(-v.value) : { ...this.tensor(v), node: b.neg(this.tensor(v).node) };
      }
      case "Transpose": {
        const v = this.tensor(this.expr(e.operand, env));
        return { ...v, node: b.mT(v.node) };
      }
      case "Binary": {
        const left = this.expr(e.left, env);
        const right = this.expr(e.right, env);
        if (e.op === "@") return this.matmul(b, this.tensor(left), this.tensor(right));
        return this.elementwise(b, e.op, left, right);
      }
      case "Call":
        return this.call(e, env);
      case "ErrorExpr":
        throw new IrError("lowering: an expression that failed to parse reached the IR");
    }
  }

  /** Runs statements in `env`; returns the value of `return` if one was reached. */
  statements(stmts: readonly Stmt[], env: Map<string, Lowered>): Lowered | undefined {
    for (const stmt of stmts) {
      switch (stmt.kind) {
        case "Let":
        case "Assign":
          env.set(stmt.name.name, this.expr(stmt.value, env));
          break;
        case "Repeat": {
          const count = this.number(this.expr(stmt.count, env));
          for (let i = 0; i < count; i++) {
            // `let`s inside the loop are local to one iteration; assignments to outer names persist.
            const inner = new Map(env);
            this.statements(stmt.body, inner);
            for (const key of env.keys()) env.set(key, inner.get(key)!);
          }
          break;
        }
        case "Return":
          return this.expr(stmt.value, env);
      }
    }
    return undefined;
  }

  /** A value as a graph tensor (compile-time numbers become unbatched scalars). */
  tensor(v: Lowered): Extract<Lowered, { kind: "tensor" }> {
    if (v.kind === "tensor") return v;
    if (v.kind === "number") return { kind: "tensor", node: this.b.scalar(v.value), batched: false, rank: 0 };
    throw new IrError(`lowering: expected a tensor, got a ${v.kind}`);
  }

  number(v: Lowered): number {
    if (v.kind !== "number") throw new IrError(`lowering: expected a compile-time number, got a ${v.kind}`);
    return v.value;
  }

  /**
   * numpy broadcasting of two logical values. Batched tensors carry the token
   * axes in front, so a batched operand of lower logical rank is lifted (unit
   * axes inserted after the batch) before the op; unbatched ones line up from
   * the right by themselves.
   */
  private align(a: Extract<Lowered, { kind: "tensor" }>, c: Extract<Lowered, { kind: "tensor" }>): [Node, Node, number] {
    const rank = Math.max(a.rank, c.rank);
    const lift = (x: Extract<Lowered, { kind: "tensor" }>) => (x.batched ? this.b.liftRank(x.node, this.batchDims, rank) : x.node);
    return [lift(a), lift(c), rank];
  }

  private elementwise(b: Builder, op: "+" | "-" | "*" | "/", left: Lowered, right: Lowered): Lowered {
    if (left.kind === "number" && right.kind === "number") {
      const [x, y] = [left.value, right.value];
      return num(op === "+" ? x + y : op === "-" ? x - y : op === "*" ? x * y : x / y);
    }
    const method = op === "+" ? "add" : op === "-" ? "sub" : op === "*" ? "mul" : "div";
    return this.binaryTensor(b, method, left, right);
  }

  private binaryTensor(b: Builder, method: "add" | "sub" | "mul" | "div" | "max" | "min", left: Lowered, right: Lowered): Lowered {
    // A compile-time number stays a scalar operand; the builder gives it the tensor's dtype.
    if (left.kind === "number") {
      const t = this.tensor(right);
      return { ...t, node: b[method](left.value, t.node) };
    }
    if (right.kind === "number") {
      const t = this.tensor(left);
      return { ...t, node: b[method](t.node, right.value) };
    }
    const [x, y, rank] = this.align(this.tensor(left), this.tensor(right));
    return { kind: "tensor", node: b[method](x, y), batched: this.tensor(left).batched || this.tensor(right).batched, rank };
  }

  /** numpy `matmul`: a vector operand becomes a row (left) or column (right) and is squeezed back. */
  private matmul(b: Builder, left: Extract<Lowered, { kind: "tensor" }>, right: Extract<Lowered, { kind: "tensor" }>): Lowered {
    const l = left.rank === 1 ? b.unsqueeze(left.node, -2) : left.node;
    const r = right.rank === 1 ? b.unsqueeze(right.node, -1) : right.node;
    let out = b.matmul(l, r);
    let rank = Math.max(left.rank, right.rank, 2);
    if (right.rank === 1) {
      out = b.reshape(out, out.shape.slice(0, -1));
      rank--;
    }
    if (left.rank === 1) {
      out = b.reshape(out, [...out.shape.slice(0, -2), out.shape[out.shape.length - 1]!]);
      rank--;
    }
    return { kind: "tensor", node: out, batched: left.batched || right.batched, rank };
  }

  private call(e: CallExpr, env: Map<string, Lowered>): Lowered {
    const b = this.b.at(e.span);
    const name = e.callee.name;
    const positional = e.args.filter((a) => !a.name).map((a) => this.expr(a.value, env));
    const named = new Map(e.args.filter((a) => a.name).map((a) => [a.name!.name, this.expr(a.value, env)] as const));
    const arg = (i: number, pname: string): Lowered => {
      const v = positional[i] ?? named.get(pname);
      if (!v) throw new IrError(`lowering: missing argument ${pname} of ${name}`);
      return v;
    };
    if (isUnaryBuiltin(name)) {
      const x = arg(0, "x");
      if (x.kind === "number") return num(unaryFolds[name](x.value));
      const t = this.tensor(x);
      return { ...t, node: b[name](t.node) };
    }
    switch (name) {
      case "max":
      case "min": {
        const [x, y] = [arg(0, "a"), arg(1, "b")];
        if (x.kind === "number" && y.kind === "number") return num(Math[name](x.value, y.value));
        return this.binaryTensor(b, name, x, y);
      }
      case "clamp": {
        const lower = this.binaryTensor(b, "max", arg(0, "x"), arg(1, "lo"));
        return this.binaryTensor(b, "min", lower, arg(2, "hi"));
      }
      case "rowsum": return this.matrixOp(arg(0, "M"), (m) => b.rowsum(m));
      case "colsum": return this.matrixOp(arg(0, "M"), (m) => b.colsum(m));
      case "rowmax": return this.matrixOp(arg(0, "M"), (m) => b.rowmax(m));
      case "colmax": return this.matrixOp(arg(0, "M"), (m) => b.colmax(m));
      case "softmax_rows": return this.matrixOp(arg(0, "M"), (m) => b.softmaxRows(m));
      case "softmax_cols": return this.matrixOp(arg(0, "M"), (m) => b.softmaxCols(m));
      case "logsumexp_rows": return this.matrixOp(arg(0, "M"), (m) => b.logsumexpRows(m));
      case "logsumexp_cols": return this.matrixOp(arg(0, "M"), (m) => b.logsumexpCols(m));
      case "softmax": return this.matrixOp(arg(0, "v"), (v) => b.softmax(v, -1));
      case "sum":
      case "mean":
      case "norm": {
        const t = this.tensor(arg(0, "x"));
        const batch = t.batched ? this.batchDims : 0;
        const node = name === "sum" ? b.sumAll(t.node, batch) : name === "mean" ? b.meanAll(t.node, batch) : b.norm(t.node, batch);
        return { kind: "tensor", node, batched: t.batched, rank: 0 };
      }
      case "eye":
        return { kind: "tensor", node: b.eye(this.number(arg(0, "k"))), batched: false, rank: 2 };
      case "ones":
      case "zeros": {
        const shape = this.shapeOf(arg(0, "shape"));
        return { kind: "tensor", node: name === "ones" ? b.ones(shape) : b.zeros(shape), batched: false, rank: shape.length };
      }
      case "perms":
        return { kind: "tensor", node: b.perms(this.number(arg(0, "k"))), batched: false, rank: 3 };
      case "combine": {
        const w = this.tensor(arg(0, "w"));
        const stack = this.tensor(arg(1, "B"));
        return { kind: "tensor", node: b.combine(w.node, stack.node), batched: w.batched || stack.batched, rank: 2 };
      }
      case "fact":
        return num(factorial(this.number(arg(0, "k"))));
    }
    const sig = this.resolve(name, this.scope);
    if (!sig) throw new IrError(`lowering: unknown function \`${name}\``);
    const args = new Map<string, Lowered>();
    const order = [sig.logits.name, ...sig.params.map((p) => p.name)];
    positional.forEach((v, i) => args.set(order[i]!, v));
    for (const [k, v] of named) args.set(k, v);
    return lowerConstraintBody(this.b, sig, this.n, args, this.batchDims, this.resolve);
  }

  private matrixOp(v: Lowered, f: (node: Node) => Node): Lowered {
    const t = this.tensor(v);
    const node = f(t.node);
    const rank = node.shape.length - (t.batched ? this.batchDims : 0);
    return { kind: "tensor", node, batched: t.batched, rank };
  }

  private shapeOf(v: Lowered): number[] {
    if (v.kind !== "list") throw new IrError("lowering: expected a shape list");
    return v.items.map((i) => this.number(i));
  }
}

/**
 * Lowers one use of a constraint: binds `n`, its compile-time parameters
 * (given or default) and its logits, then runs the body. The result may be
 * unbatched when it ignores the logits (`identity` returns `eye(n)`).
 */
export function lowerConstraintBody(b: Builder, sig: ConstraintSignature, n: number, args: ReadonlyMap<string, Lowered>, batchDims: number, resolve: ConstraintResolver): Lowered {
  const lowering = new ExprLowering(b, batchDims, resolve, sig.scope, n);
  const env = new Map<string, Lowered>([["n", num(n)]]);
  for (const p of sig.params) {
    const given = args.get(p.name);
    if (given) env.set(p.name, given);
    else if (p.default) env.set(p.name, lowering.expr(p.default, env));
    else throw new IrError(`lowering: no value for parameter ${p.name} of ${sig.name}`);
  }
  const logits = args.get(sig.logits.name);
  if (!logits) throw new IrError(`lowering: no logits for ${sig.name}`);
  env.set(sig.logits.name, logits);
  const result = lowering.statements(sig.decl.body, env);
  if (!result) throw new IrError(`lowering: ${sig.name} returned nothing`);
  return result;
}
