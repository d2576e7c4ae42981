import type { CallExpr, ConstraintDecl, Expr, Param, Stmt } from "../../grammar/ast.js";
import { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Span } from "../source/span.js";
import { bindArguments, type ParamSpec } from "./arguments.js";
import { builtins } from "./builtins.js";
import { Env, type Binding } from "./env.js";
import { Evaluator, type ConstraintCalls, type EvaluationSite } from "./evaluate.js";
import * as P from "./poly.js";
import type { LoadedFile } from "./program.js";
import type { FileScope } from "./symbols.js";
import { concreteShape, describe, ERROR, showShape, shapesEqual, tensor, type Shape, type Value } from "./values.js";

export type ScalarType = "int" | "float" | "bool";

/** A compile-time parameter of a constraint (every parameter after the logits). */
export interface CompileParam {
  readonly name: string;
  /** `unknown` after a reported mistake in its declaration: any value is accepted, uses stay quiet. */
  readonly type: ScalarType | "unknown";
  readonly default?: Expr;
  readonly decl: Param;
}

export interface ConstraintSignature {
  readonly name: string;
  readonly decl: ConstraintDecl;
  readonly scope: FileScope;
  /** The logits parameter; `dims` is undefined when it is declared `tensor` (shape-polymorphic). */
  readonly logits: { readonly name: string; readonly dims?: readonly Expr[]; readonly span: Span };
  readonly params: readonly CompileParam[];
  /** Declared result shape; undefined for `-> tensor`. */
  readonly resultDims?: readonly Expr[];
  /** The logits parameter is missing or not a tensor (reported): the body is checked, its result is not. */
  readonly invalid: boolean;
}

/** Iterations one instantiation may unroll in total; more is a mistake, not a model. */
export const MAX_UNROLLED_ITERATIONS = 100_000;
/** Elements one constraint tensor may have (per token). */
export const MAX_TENSOR_ELEMENTS = 1 << 22;

const SCALAR_TYPES: readonly string[] = ["int", "float", "bool", "tensor"];

/** The values a constraint is evaluated with: generic (symbolic) or for one use. */
export interface Bindings {
  readonly n: P.Poly;
  /** Values of compile-time parameters; missing ones take their default. */
  readonly args: ReadonlyMap<string, Value>;
  /** The actual shape of the logits. */
  readonly logitsShape: Shape;
  /** Present when evaluating one use: diagnostics then point at it too. */
  readonly site?: EvaluationSite;
}

interface BodyState {
  /** Every `let` of the body, to warn about those never read. */
  lets: { name: string; span: Span; binding: Binding }[];
  loopDepth: number;
  /** Product of the enclosing `repeat` counts, when known. */
  iterations: number;
}

/**
 * Checks constraint declarations: their signatures once, their bodies once
 * generically over `n` (and over integer parameters), and again for every
 * concrete use, where problems that depend on the values (a negative `repeat`
 * count, a zero dimension) can surface.
 */
export class ConstraintChecker {
  private readonly signatures = new Map<ConstraintDecl, ConstraintSignature>();
  private readonly generic = new Map<ConstraintDecl, { usesLogits: boolean }>();
  private readonly active: ConstraintDecl[] = [];

  constructor(
    private readonly bag: DiagnosticBag,
    /** The scope of each file, so a constraint resolves names where it is declared. */
    private readonly scopes: ReadonlyMap<string, FileScope>,
  ) {}

  private scopeOf(file: LoadedFile, fallback: FileScope): FileScope {
    return this.scopes.get(file.absPath) ?? fallback;
  }

  signature(decl: ConstraintDecl, scope: FileScope): ConstraintSignature {
    const known = this.signatures.get(decl);
    if (known) return known;
    const seen = new Map<string, Span>();
    const params: CompileParam[] = [];
    const first = decl.params[0];
    let invalid = false;
    if (!first) {
      invalid = true;
      this.bag.report(Diag.NoParameters, decl.name.span, [decl.name.name], { label: "no parameters", help: `declare the logits first: \`constraint ${decl.name.name}(L: [n, n]) -> ...\`` });
    }
    for (const [index, p] of decl.params.entries()) {
      const name = p.name.name;
      if (name === "n") {
        this.bag.report(Diag.DuplicateVariable, p.name.span, ["n"], { label: "`n` is the stream count", notes: ["every constraint sees `n`, the stream count of the connection that uses it"] });
      } else if (seen.has(name)) {
        this.bag.report(Diag.DuplicateParameter, p.name.span, [name], { label: "declared again here", secondary: [{ span: seen.get(name)!, message: "first declared here" }] });
      }
      seen.set(name, p.name.span);
      const typeName = p.type.kind === "NamedType" ? p.type.name.name : "";
      const knownType = p.type.kind === "ShapeType" || SCALAR_TYPES.includes(typeName);
      if (!knownType && typeName !== "") {
        const help = didYouMean(typeName, SCALAR_TYPES);
        this.bag.report(Diag.BadParameterType, p.type.span, [typeName], { label: "not a type", ...(help ? { help } : { notes: ["types are `int`, `float`, `bool`, `tensor` or a shape such as `[n, n]`"] }) });
      }
      const isTensor = p.type.kind === "ShapeType" || typeName === "tensor";
      if (index === 0) {
        if (!isTensor) {
          invalid = true;
          if (knownType) this.bag.report(Diag.LogitsNotTensor, p.type.span, [decl.name.name], { label: `\`${typeName}\` is not a tensor`, help: "declare the logits first, e.g. `L: [n, n]` or `L: tensor`" });
        }
        continue;
      }
      if (isTensor && !invalid) {
        this.bag.report(Diag.TypeMismatch, p.type.span, ["`int`, `float` or `bool` (only the first parameter is a tensor)", p.type.kind === "ShapeType" ? "a shape" : "`tensor`"], { label: "second tensor parameter" });
      }
      const type = isTensor || !knownType ? "unknown" : (["int", "float", "bool"] as const).find((t) => t === typeName) ?? "unknown";
      params.push({ name, type, ...(p.default ? { default: p.default } : {}), decl: p });
    }
    const logitsDims = first?.type.kind === "ShapeType" ? first.type.dims : undefined;
    const sig: ConstraintSignature = {
      name: decl.name.name,
      decl,
      scope,
      logits: { name: first?.name.name ?? "", ...(logitsDims ? { dims: logitsDims } : {}), span: first?.span ?? decl.name.span },
      params,
      ...(decl.result.kind === "ShapeType" ? { resultDims: decl.result.dims } : {}),
      invalid,
    };
    if (decl.result.kind === "NamedType" && decl.result.name.name !== "tensor" && decl.result.name.name !== "") {
      this.bag.report(Diag.TypeMismatch, decl.result.span, ["a tensor result (`tensor` or a shape such as `[n, n]`)", `\`${decl.result.name.name}\``], { label: "constraints return tensors" });
    }
    this.signatures.set(decl, sig);
    return sig;
  }

  /** Checks a constraint for every `n` and returns whether its result depends on its logits. */
  checkGeneric(sig: ConstraintSignature): { usesLogits: boolean } {
    const known = this.generic.get(sig.decl);
    if (known) return known;
    if (this.active.includes(sig.decl)) return { usesLogits: true };
    const n = P.atom("n");
    const args = new Map<string, Value>();
    for (const p of sig.params) args.set(p.name, symbolicValue(p));
    let usesLogits = false;
    // A shape-polymorphic constraint must work for both kinds of slot.
    const logitsShapes: Shape[] = sig.invalid ? [[]] : sig.logits.dims ? [this.declaredShape(sig.logits.dims, n, args, sig, undefined) ?? []] : [[n], [n, n]];
    const errorsBefore = this.bag.errorCount;
    for (const logitsShape of logitsShapes) {
      // One root cause, one report: stop after the first kind of slot that fails.
      if (this.bag.errorCount > errorsBefore) break;
      const result = this.evaluate(sig, { n, args, logitsShape }, true);
      if (result.kind === "tensor" && result.usesLogits) usesLogits = true;
      if (result.kind === "error") usesLogits = true; // do not claim "ignores its logits" after an error
    }
    // A declared default such as `iters: int = 0` can make a `repeat` count
    // negative although the body is fine for other values: check the counts
    // (not the whole body again) with the defaults.
    if (this.bag.errorCount === errorsBefore && !sig.invalid) this.checkCountsWithDefaults(sig, n, args);
    const summary = { usesLogits };
    this.generic.set(sig.decl, summary);
    return summary;
  }

  private checkCountsWithDefaults(sig: ConstraintSignature, n: P.Poly, args: ReadonlyMap<string, Value>): void {
    const counts = repeatCounts(sig.decl.body);
    if (counts.length === 0 || !sig.params.some((p) => p.default)) return;
    const quiet = new DiagnosticBag();
    const defaults = new Map([...args].filter(([name]) => !sig.params.find((p) => p.name === name)?.default));
    const env = new ConstraintChecker(quiet, this.scopes).parameterEnv(sig, n, defaults, undefined);
    const evaluator = new Evaluator(quiet, { has: () => false, names: () => [], call: () => ERROR });
    for (const count of counts) {
      // Counts that read `let` variables cannot be evaluated here; they were checked with the body.
      const v = evaluator.expr(count, env);
      const c = v.kind === "int" ? P.constantValue(v.value) : undefined;
      if (c !== undefined && c < 0) {
        this.bag.report(Diag.BadRepeatCount, count.span, [String(c)], { label: "negative with the default arguments", notes: ["the parameters' declared defaults make this count negative"] });
      }
    }
  }

  /** Evaluates one use of a constraint and returns its result (an error value after a problem). */
  instantiate(sig: ConstraintSignature, bindings: Bindings): Value {
    return this.evaluate(sig, bindings, false);
  }

  /** The shape of the logits for a given `n` and arguments; undefined for polymorphic constraints. */
  logitsShape(sig: ConstraintSignature, n: P.Poly, args: ReadonlyMap<string, Value>, site?: EvaluationSite): Shape | undefined {
    return sig.logits.dims ? this.declaredShape(sig.logits.dims, n, args, sig, site) : undefined;
  }

  private declaredShape(dims: readonly Expr[], n: P.Poly, args: ReadonlyMap<string, Value>, sig: ConstraintSignature, site: EvaluationSite | undefined): Shape | undefined {
    const env = this.parameterEnv(sig, n, args, site);
    const evaluator = new Evaluator(this.bag, this.callsFor(sig, n, site), site);
    const shape: P.Poly[] = [];
    let ok = true;
    for (const dim of dims) {
      const v = evaluator.expr(dim, env);
      if (v.kind === "error") ok = false;
      else if (v.kind !== "int") {
        evaluator.report(Diag.BadDimension, dim.span, [describe(v)], { label: "not an integer" });
        ok = false;
      } else {
        const c = P.constantValue(v.value);
        if (c !== undefined && c < 1) {
          evaluator.report(Diag.BadDimension, dim.span, [String(c)], { label: "must be at least 1" });
          ok = false;
        }
        shape.push(v.value);
      }
    }
    return ok ? shape : undefined;
  }

  /** `n` and the compile-time parameters, with defaults for those not given. */
  parameterEnv(sig: ConstraintSignature, n: P.Poly, args: ReadonlyMap<string, Value>, site: EvaluationSite | undefined): Env {
    const env = new Env();
    env.define("n", { kind: "stream-count", value: { kind: "int", value: n } });
    const evaluator = new Evaluator(this.bag, this.callsFor(sig, n, site), site);
    for (const p of sig.params) {
      let value = args.get(p.name);
      if (!value && p.default) value = this.checkScalar(evaluator.expr(p.default, env), p, p.default.span, evaluator);
      env.define(p.name, { kind: "param", value: value ?? symbolicValue(p), span: p.decl.name.span });
    }
    return env;
  }

  /** Checks a value given for a compile-time parameter against its declared type. */
  checkScalar(value: Value, param: CompileParam, where: Span, evaluator: { report: Evaluator["report"] }): Value {
    if (value.kind === "error" || param.type === "unknown") return value;
    if (value.kind === param.type) return value;
    if (param.type === "float" && value.kind === "int") {
      const c = P.constantValue(value.value);
      return { kind: "float", ...(c !== undefined ? { value: c } : {}) };
    }
    evaluator.report(Diag.TypeMismatch, where, [`\`${param.type}\` for \`${param.name}\``, describe(value)], {
      label: `expected \`${param.type}\``,
      secondary: [{ span: param.decl.span, message: "parameter declared here" }],
      ...(param.type === "int" && value.kind === "float" ? { help: "write an integer without a decimal point" } : {}),
    });
    return ERROR;
  }

  private evaluate(sig: ConstraintSignature, bindings: Bindings, generic: boolean): Value {
    this.active.push(sig.decl);
    try {
      const env = this.parameterEnv(sig, bindings.n, bindings.args, bindings.site).child();
      env.define(sig.logits.name, { kind: "param", value: sig.invalid ? ERROR : tensor(bindings.logitsShape, true), span: sig.logits.span });
      const evaluator = new Evaluator(this.bag, this.callsFor(sig, bindings.n, bindings.site, generic), bindings.site);
      const state: BodyState = { lets: [], loopDepth: 0, iterations: 1 };
      const errorsBefore = this.bag.errorCount;
      const returned = this.body(sig.decl.body, env, evaluator, state, generic);
      // Unused-variable warnings only for a body that is otherwise clean: after an
      // error (a misspelt use, a missing `return`) they would only add noise.
      if (generic && returned && !sig.decl.recovered && this.bag.errorCount === errorsBefore) {
        for (const { name, span, binding } of state.lets) {
          if (!binding.used && !name.startsWith("_")) {
            evaluator.report(Diag.UnusedVariable, span, [name], { label: "never read", help: `remove it, or name it \`_${name}\` if it is meant to be unused` });
          }
        }
      }
      if (sig.invalid) return ERROR;
      if (!returned) {
        if (!containsReturn(sig.decl.body) && !sig.decl.recovered) {
          evaluator.report(Diag.MissingReturn, sig.decl.name.span, [sig.name], { label: "no `return` in this constraint", help: "end the body with `return EXPR`" });
        }
        return ERROR;
      }
      return this.checkResult(sig, returned.value, returned.span, bindings, evaluator);
    } finally {
      this.active.pop();
    }
  }

  private checkResult(sig: ConstraintSignature, value: Value, where: Span, bindings: Bindings, evaluator: Evaluator): Value {
    if (value.kind === "error") return value;
    if (value.kind !== "tensor") {
      const declared = sig.resultDims ? this.declaredShape(sig.resultDims, bindings.n, bindings.args, sig, bindings.site) : undefined;
      evaluator.report(Diag.ReturnShape, where, [sig.name, describe(value), declared ? showShape(declared) : "a tensor"], { label: "not a tensor" });
      return ERROR;
    }
    if (!sig.logits.dims) {
      if (!shapesEqual(value.shape, bindings.logitsShape)) {
        evaluator.report(Diag.PolymorphicResult, where, [sig.name, showShape(value.shape)], { label: `returns ${showShape(value.shape)} for logits of shape ${showShape(bindings.logitsShape)}` });
        return ERROR;
      }
      return value;
    }
    if (sig.resultDims) {
      const declared = this.declaredShape(sig.resultDims, bindings.n, bindings.args, sig, bindings.site);
      if (declared && !shapesEqual(declared, value.shape)) {
        evaluator.report(Diag.ReturnShape, where, [sig.name, showShape(value.shape), showShape(declared)], {
          label: `this is ${showShape(value.shape)}`,
          secondary: [{ span: sig.decl.result.span, message: `declared ${showShape(declared)}` }],
        });
        return ERROR;
      }
    }
    return value;
  }

  /** Checks statements; returns the value of the final `return` if there is one. */
  private body(stmts: readonly Stmt[], env: Env, evaluator: Evaluator, state: BodyState, generic: boolean): { value: Value; span: Span } | undefined {
    let returned: { value: Value; span: Span } | undefined;
    stmts.forEach((stmt, index) => {
      switch (stmt.kind) {
        case "Let": {
          const value = this.limitSize(evaluator.expr(stmt.value, env), stmt.value.span, evaluator, generic);
          const existing = env.lookup(stmt.name.name);
          if (existing && stmt.name.name !== "") {
            evaluator.report(Diag.DuplicateVariable, stmt.name.span, [stmt.name.name], {
              label: "defined again here",
              ...(existing.span ? { secondary: [{ span: existing.span, message: "first defined here" }] } : {}),
              help: `to change its value, drop the \`let\`: \`${stmt.name.name} = ...\``,
            });
            return;
          }
          const binding: Binding = { kind: "let", value, span: stmt.name.span };
          env.define(stmt.name.name, binding);
          state.lets.push({ name: stmt.name.name, span: stmt.name.span, binding });
          return;
        }
        case "Assign":
          this.assign(stmt.name.name, stmt.name.span, this.limitSize(evaluator.expr(stmt.value, env), stmt.value.span, evaluator, generic), stmt.value.span, env, evaluator, state);
          return;
        case "Repeat": {
          const iterations = this.repeatCount(stmt.count, env, evaluator, state, generic);
          const inner = { lets: state.lets, loopDepth: state.loopDepth + 1, iterations: iterations ?? state.iterations };
          this.body(stmt.body, env.child(), evaluator, inner, generic);
          return;
        }
        case "Return": {
          const value = evaluator.expr(stmt.value, env);
          if (state.loopDepth > 0) {
            evaluator.report(Diag.ReturnInRepeat, stmt.span, [], { label: "inside `repeat`", help: "assign to a variable in the loop and `return` it after the loop" });
            return;
          }
          if (index !== stmts.length - 1) {
            evaluator.report(Diag.ReturnNotLast, stmt.span, [], { label: "statements after this `return` would never run", secondary: [{ span: stmts[index + 1]!.span, message: "this statement follows it" }] });
          }
          returned = { value, span: stmt.value.span };
          return;
        }
      }
    });
    return returned;
  }

  private assign(name: string, nameSpan: Span, value: Value, valueSpan: Span, env: Env, evaluator: Evaluator, state: BodyState): void {
    if (name === "") return;
    const binding = env.lookup(name);
    if (!binding) {
      const help = didYouMean(name, env.names());
      evaluator.report(Diag.AssignToUndeclared, nameSpan, [name], { label: "not declared", help: help ?? `declare it first: \`let ${name} = ...\`` });
      // Declare it anyway, so its later uses do not report it again.
      env.define(name, { kind: "let", value, span: nameSpan, used: true });
      return;
    }
    if (binding.kind !== "let") {
      evaluator.report(Diag.AssignToParameter, nameSpan, [name], {
        label: name === "n" ? "`n` is the stream count" : "parameters cannot be changed",
        help: `copy it first: \`let ${name}_ = ${name}\``,
      });
      return;
    }
    const old = binding.value;
    if (value.kind === "error" || old.kind === "error") {
      binding.value = value.kind === "error" ? old : value;
      return;
    }
    const compatible = old.kind === "tensor" ? value.kind === "tensor" && shapesEqual(old.shape, value.shape) : old.kind === value.kind || (old.kind === "float" && value.kind === "int");
    if (!compatible) {
      evaluator.report(Diag.ReassignShape, valueSpan, [describe(value), name, describe(old)], {
        label: `this is ${describe(value)}`,
        ...(binding.span ? { secondary: [{ span: binding.span, message: `\`${name}\` is ${describe(old)}` }] } : {}),
        help: "a variable keeps its shape; use a new `let` for a value of another shape",
      });
      return;
    }
    if (old.kind === "tensor" && value.kind === "tensor") {
      binding.value = tensor(old.shape, old.usesLogits || value.usesLogits);
    } else if (state.loopDepth > 0) {
      // Its value changes from iteration to iteration: no longer a known constant.
      binding.value = old.kind === "int" ? { kind: "int", value: P.atom(`${name}'`) } : old.kind === "float" || old.kind === "bool" ? { kind: old.kind } : value;
      binding.varies = true;
    } else {
      binding.value = old.kind === "float" && value.kind === "int" ? { kind: "float" } : value;
    }
  }

  private repeatCount(count: Expr, env: Env, evaluator: Evaluator, state: BodyState, generic: boolean): number | undefined {
    const v = evaluator.expr(count, env);
    if (v.kind === "error") return undefined;
    if (v.kind !== "int") {
      const found = v.kind === "tensor" ? `${describe(v)} computed at run time` : describe(v);
      evaluator.report(Diag.BadRepeatCount, count.span, [found], { label: "not a compile-time integer" });
      return undefined;
    }
    const c = P.constantValue(v.value);
    if (c === undefined) {
      const varying = [...v.value.terms.keys()].some((k) => k.includes("'"));
      if (varying) evaluator.report(Diag.NotCompileTime, count.span, ["a `repeat` count"], { label: "changes inside a loop" });
      return undefined;
    }
    if (c < 0) {
      evaluator.report(Diag.BadRepeatCount, count.span, [String(c)], { label: "negative" });
      return undefined;
    }
    const total = state.iterations * c;
    if (!generic && total > MAX_UNROLLED_ITERATIONS) {
      evaluator.report(Diag.RepeatTooLong, count.span, [total, MAX_UNROLLED_ITERATIONS], { label: "too many iterations" });
      return undefined;
    }
    return total;
  }

  private limitSize(v: Value, where: Span, evaluator: Evaluator, generic: boolean): Value {
    if (generic || v.kind !== "tensor") return v;
    const dims = concreteShape(v.shape);
    if (!dims) return v;
    const count = dims.reduce((a, b) => a * b, 1);
    if (count > MAX_TENSOR_ELEMENTS) {
      evaluator.report(Diag.ShapeTooLarge, where, [showShape(v.shape), count.toLocaleString("en-US"), MAX_TENSOR_ELEMENTS.toLocaleString("en-US")], { label: "too large" });
      return ERROR;
    }
    return v;
  }

  /** Calls from inside the body of `caller` to other constraints. */
  private callsFor(caller: ConstraintSignature, n: P.Poly, site: EvaluationSite | undefined, generic = true): ConstraintCalls {
    const scope = caller.scope;
    return {
      has: (name) => scope.lookup(name)?.kind === "constraint",
      names: () => scope.names("constraint"),
      call: (call, evaluate) => {
        const target = scope.lookup(call.callee.name);
        if (target?.kind !== "constraint") return ERROR;
        return this.callConstraint(this.signature(target.decl, this.scopeOf(target.file, scope)), call, evaluate, n, site, generic);
      },
    };
  }

  /**
   * A call to a constraint from a constraint body: `sinkhorn(L, iters = 5)`.
   * The callee sees the caller's `n`; its logits are the first argument.
   */
  callConstraint(sig: ConstraintSignature, call: CallExpr, evaluate: (e: Expr) => Value, n: P.Poly, site: EvaluationSite | undefined, generic: boolean): Value {
    if (this.active.includes(sig.decl)) {
      this.bag.report(Diag.RecursiveConstraint, call.callee.span, [sig.name], { label: "recursive call", notes: ["constraints are inlined, so they cannot call themselves"] });
      return ERROR;
    }
    const specs: ParamSpec[] = [{ name: sig.logits.name, optional: false, span: sig.logits.span }, ...sig.params.map((p) => ({ name: p.name, optional: p.default !== undefined, span: p.decl.span }))];
    const bound = bindArguments(call, specs, this.bag);
    const logitsArg = bound.get(sig.logits.name);
    const logits = logitsArg ? evaluate(logitsArg.value) : ERROR;
    const args = new Map<string, Value>();
    const reporter = { report: (...a: Parameters<Evaluator["report"]>) => this.bag.report(...a) };
    for (const p of sig.params) {
      const arg = bound.get(p.name);
      if (arg) args.set(p.name, this.checkScalar(evaluate(arg.value), p, arg.value.span, reporter));
    }
    for (const arg of call.args) if (![...bound.values()].includes(arg)) evaluate(arg.value);
    if (logits.kind === "error" || [...args.values()].some((v) => v.kind === "error")) return ERROR;
    if (logits.kind !== "tensor") {
      this.bag.report(Diag.TypeMismatch, logitsArg!.value.span, [`a tensor (the logits of \`${sig.name}\`)`, describe(logits)]);
      return ERROR;
    }
    const expected = this.logitsShape(sig, n, args, site);
    if (sig.logits.dims && !expected) return ERROR;
    if (expected && !shapesEqual(expected, logits.shape)) {
      this.bag.report(Diag.ShapeMismatch, logitsArg!.value.span, [sig.name, showShape(logits.shape), showShape(expected)], {
        label: `\`${sig.name}\` takes ${showShape(expected)} logits`,
        secondary: [{ span: sig.logits.span, message: "declared here" }],
      });
      return ERROR;
    }
    const usesLogits = logits.usesLogits && this.checkGeneric(sig).usesLogits;
    if (!generic) {
      const result = this.instantiate(sig, { n, args, logitsShape: logits.shape, ...(site ? { site } : {}) });
      if (result.kind === "error") return ERROR;
    }
    if (!sig.resultDims) return tensor(logits.shape, usesLogits);
    const declared = this.declaredShape(sig.resultDims, n, args, sig, site);
    return declared ? tensor(declared, usesLogits) : ERROR;
  }
}

/** Whether a name can be used as a constraint: a builtin cannot serve as a connection map. */
export function isBuiltinName(name: string): boolean {
  return builtins.has(name);
}

/** The value a compile-time parameter has when checking for all of its values. */
function symbolicValue(p: CompileParam): Value {
  if (p.type === "unknown") return ERROR;
  return p.type === "int" ? { kind: "int", value: P.atom(p.name) } : { kind: p.type };
}

function containsReturn(stmts: readonly Stmt[]): boolean {
  return stmts.some((s) => s.kind === "Return" || (s.kind === "Repeat" && containsReturn(s.body)));
}

/** The count expressions of every `repeat` of a body, nested ones included. */
function repeatCounts(stmts: readonly Stmt[]): Expr[] {
  return stmts.flatMap((s) => (s.kind === "Repeat" ? [s.count, ...repeatCounts(s.body)] : []));
}
