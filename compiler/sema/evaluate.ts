import type { BinaryExpr, CallExpr, Expr } from "../../grammar/ast.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import type { DiagnosticExtras } from "../diagnostics/diagnostic.js";
import { Diag, type MessageDef } from "../diagnostics/messages.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Span } from "../source/span.js";
import { bindArguments } from "./arguments.js";
import { builtins, type BuiltinSite } from "./builtins.js";
import type { Env } from "./env.js";
import * as P from "./poly.js";
import { broadcastShapes, describe, ERROR, floatValue, intValue, showShape, tensor, usesLogits, type Value } from "./values.js";

/** Calls to user and prelude constraints, resolved by the program's scopes. */
export interface ConstraintCalls {
  /** Whether `name` is a constraint visible here. */
  has(name: string): boolean;
  /** Checks a call to the constraint `name` and returns its result. */
  call(call: CallExpr, evaluate: (e: Expr) => Value): Value;
  /** Names to suggest for a misspelt callee. */
  names(): string[];
}

/**
 * Context that is added to every diagnostic reported while evaluating, e.g.
 * "in `sinkhorn` with n = 4, used at mhc.mhc:7:3", so a problem that exists
 * only for some arguments points at the use that caused it.
 */
export interface EvaluationSite {
  readonly note: string;
  readonly span: Span;
}

/**
 * Abstract evaluation of expressions: computes the type, the compile-time value
 * and the symbolic shape of every expression, reporting what is wrong once.
 * The same evaluator checks constraint bodies (generically over `n` or for one
 * binding of `n`), connection fields and `init` expressions.
 */
export class Evaluator {
  constructor(
    readonly bag: DiagnosticBag,
    private readonly constraints: ConstraintCalls,
    private readonly site?: EvaluationSite,
  ) {}

  report(def: MessageDef, span: Span | undefined, args: readonly (string | number)[] = [], extras: DiagnosticExtras = {}): void {
    const site = this.site;
    if (site && span && span.file !== site.span.file) {
      // The problem lies in another file (often the prelude) but exists only
      // because of this use: point at the use, and show where it surfaces.
      const inside = extras.label ? `${extras.label} here` : "surfaces here";
      this.bag.report(def, site.span, args, {
        ...extras,
        label: site.note.replace(/ here$/, ""),
        secondary: [...(extras.secondary ?? []), { span, message: inside }],
      });
      return;
    }
    if (site) extras = { ...extras, secondary: [...(extras.secondary ?? []), { span: site.span, message: site.note }] };
    this.bag.report(def, span, args, extras);
  }

  expr(e: Expr, env: Env): Value {
    switch (e.kind) {
      case "Number":
        return e.isInteger ? intValue(P.constant(e.value)) : floatValue(e.value);
      case "Bool":
        return { kind: "bool", value: e.value };
      case "Name":
        return this.name(e.name, e.span, env);
      case "List":
        return { kind: "list", items: e.items.map((item) => this.expr(item, env)) };
      case "Unary":
        return this.negate(this.expr(e.operand, env), e.span);
      case "Transpose":
        return this.transpose(this.expr(e.operand, env), e.span);
      case "Binary":
        return this.binary(e, env);
      case "Call":
        return this.call(e, env);
      case "ErrorExpr":
        return ERROR;
    }
  }

  private name(name: string, where: Span, env: Env): Value {
    const binding = env.lookup(name);
    if (binding) {
      binding.used = true;
      return binding.value;
    }
    if (builtins.has(name) || this.constraints.has(name)) {
      this.report(Diag.UnknownName, where, [name], { label: "this is a function", help: `call it: \`${name}(...)\`` });
      return ERROR;
    }
    const help = didYouMean(name, env.names());
    this.report(Diag.UnknownName, where, [name], { label: "not found in this scope", ...(help ? { help } : {}) });
    return ERROR;
  }

  private negate(v: Value, where: Span): Value {
    switch (v.kind) {
      case "int":
        return intValue(P.scale(v.value, -1));
      case "float":
        return floatValue(v.value === undefined ? undefined : -v.value);
      case "tensor":
      case "error":
        return v;
      default:
        this.report(Diag.TypeMismatch, where, ["a number or a tensor", describe(v)], { label: "cannot be negated" });
        return ERROR;
    }
  }

  private transpose(v: Value, where: Span): Value {
    if (v.kind === "error") return v;
    if (v.kind !== "tensor" || v.shape.length !== 2) {
      this.report(Diag.TransposeNotMatrix, where, [describe(v)], { label: "not a matrix" });
      return ERROR;
    }
    return tensor([v.shape[1]!, v.shape[0]!], v.usesLogits);
  }

  private binary(e: BinaryExpr, env: Env): Value {
    const left = this.expr(e.left, env);
    const right = this.expr(e.right, env);
    if (left.kind === "error" || right.kind === "error") return ERROR;
    for (const [side, v] of [[e.left, left], [e.right, right]] as const) {
      if (v.kind === "bool" || v.kind === "list") {
        this.report(Diag.TypeMismatch, side.span, ["a number or a tensor", describe(v)], { label: `cannot be used with \`${e.op}\`` });
        return ERROR;
      }
    }
    if (e.op === "@") return this.matmul(e, left, right);
    if (left.kind === "tensor" || right.kind === "tensor") {
      const ls = left.kind === "tensor" ? left.shape : [];
      const rs = right.kind === "tensor" ? right.shape : [];
      const out = broadcastShapes(ls, rs);
      if (!out) {
        this.report(Diag.ShapeMismatch, e.span, [e.op, showShape(ls), showShape(rs)], { label: `cannot broadcast ${showShape(rs)} against ${showShape(ls)}` });
        return ERROR;
      }
      return tensor(out, usesLogits(left) || usesLogits(right));
    }
    return this.scalarArithmetic(e, left, right);
  }

  /** Compile-time arithmetic: integers stay symbolic under `+ - *`; `/` gives a float. */
  private scalarArithmetic(e: BinaryExpr, left: Value, right: Value): Value {
    if (left.kind === "int" && right.kind === "int" && e.op !== "/") {
      const op = e.op === "+" ? P.add : e.op === "-" ? P.sub : P.mul;
      return intValue(op(left.value, right.value));
    }
    const a = left.kind === "int" ? P.constantValue(left.value) : left.kind === "float" ? left.value : undefined;
    const b = right.kind === "int" ? P.constantValue(right.value) : right.kind === "float" ? right.value : undefined;
    if (a === undefined || b === undefined) return floatValue();
    if (e.op === "/" && b === 0) {
      this.report(Diag.DivisionByZero, e.span, [], { label: "the divisor is zero" });
      return ERROR;
    }
    const value = e.op === "+" ? a + b : e.op === "-" ? a - b : e.op === "*" ? a * b : a / b;
    return floatValue(value);
  }

  /** numpy `matmul` for vectors and matrices, with broadcast batch dimensions. */
  private matmul(e: BinaryExpr, left: Value, right: Value): Value {
    if (left.kind !== "tensor" || right.kind !== "tensor" || left.shape.length === 0 || right.shape.length === 0) {
      const bad = left.kind !== "tensor" || left.shape.length === 0 ? e.left : e.right;
      const v = bad === e.left ? left : right;
      this.report(Diag.MatmulMismatch, bad.span, [describe(left), describe(right)], { label: `${describe(v)} has no rows to multiply`, help: "use `*` to scale by a scalar" });
      return ERROR;
    }
    const a = left.shape.length === 1 ? [P.constant(1), left.shape[0]!] : left.shape;
    const b = right.shape.length === 1 ? [right.shape[0]!, P.constant(1)] : right.shape;
    const inner = [a[a.length - 1]!, b[b.length - 2]!] as const;
    const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
    if (!P.equal(inner[0], inner[1]) || !batch) {
      this.report(Diag.MatmulMismatch, e.opSpan, [describe(left), describe(right)], {
        label: `inner dimensions ${P.show(inner[0])} and ${P.show(inner[1])} differ`,
        secondary: [
          { span: e.left.span, message: `this is ${showShape(left.shape)}` },
          { span: e.right.span, message: `this is ${showShape(right.shape)}` },
        ],
      });
      return ERROR;
    }
    const out = [...batch];
    if (left.shape.length > 1) out.push(a[a.length - 2]!);
    if (right.shape.length > 1) out.push(b[b.length - 1]!);
    return tensor(out, left.usesLogits || right.usesLogits);
  }

  private call(e: CallExpr, env: Env): Value {
    const name = e.callee.name;
    const builtin = builtins.get(name);
    if (builtin) {
      const bound = bindArguments(e, builtin.params.map((p) => ({ name: p, optional: false })), this.bag);
      const args = builtin.params.map((p) => {
        const arg = bound.get(p);
        return arg ? this.expr(arg.value, env) : ERROR;
      });
      // Evaluate surplus arguments too, so mistakes inside them are reported.
      for (const arg of e.args) if (![...bound.values()].includes(arg)) this.expr(arg.value, env);
      if (args.some((a) => a.kind === "error")) return ERROR;
      const argSpans = builtin.params.map((p) => bound.get(p)?.value.span ?? e.span);
      const site: BuiltinSite = {
        report: (def, at, args, extras) => this.report(def, at === "call" ? e.span : argSpans[at] ?? e.span, args, extras),
      };
      return builtin.check(args, site);
    }
    if (this.constraints.has(name)) return this.constraints.call(e, (x) => this.expr(x, env));
    const binding = env.lookup(name);
    if (binding) {
      binding.used = true;
      const what = binding.kind === "let" ? "variable" : "parameter";
      this.report(Diag.NotCallable, e.callee.span, [name, what], { label: `a ${what}, not a function` });
      return ERROR;
    }
    const help = didYouMean(name, [...builtins.keys(), ...this.constraints.names()]);
    this.report(Diag.UnknownFunction, e.callee.span, [name], { label: "not a builtin or a constraint", ...(help ? { help } : {}) });
    for (const arg of e.args) this.expr(arg.value, env);
    return ERROR;
  }
}
