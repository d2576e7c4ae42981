import type { CallExpr, ConnectionDecl, Expr, ValueField } from "../../grammar/ast.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { bindArguments } from "./arguments.js";
import { builtins } from "./builtins.js";
import type { CheckedConnection, CheckedMap, NormKind, Projection, Slot } from "./checked.js";
import { SLOTS } from "./checked.js";
import type { ConstraintChecker, ScalarType } from "./constraints.js";
import { Env } from "./env.js";
import { Evaluator, type ConstraintCalls, type EvaluationSite } from "./evaluate.js";
import { collectFields, enumValue, reportMissing } from "./fields.js";
import * as P from "./poly.js";
import type { FileScope } from "./symbols.js";
import { broadcastShapes, describe, elementCount, ERROR, numberValue, shapesEqual, showShape, type Shape, type Value } from "./values.js";

const CONNECTION_FIELDS = ["streams", "norm", "alpha", "pre", "post", "res", "projection"] as const;
const NORMS: readonly NormKind[] = ["rms", "rms_stream", "none"];
const PROJECTIONS: readonly Projection[] = ["flat", "per_stream"];

export const DEFAULT_NORM_EPS = 1e-6;
export const DEFAULT_ALPHA = 0.01;

/** A parameter of a connection: `connection mhc(n: int = 4, iters: int = 20)`. */
interface ConnectionParam {
  readonly name: string;
  readonly type: ScalarType;
  readonly default?: Expr;
  readonly span: import("../source/span.js").Span;
}

/**
 * Checks connection declarations: generically (parameters symbolic), with
 * their defaults, and once per distinct use by a model, where `n` and the
 * constraint arguments are concrete.
 */
export class ConnectionChecker {
  private readonly instances = new Map<string, CheckedConnection | undefined>();
  private readonly paramCache = new Map<ConnectionDecl, ConnectionParam[]>();

  constructor(
    private readonly bag: DiagnosticBag,
    private readonly constraints: ConstraintChecker,
    private readonly scopes: ReadonlyMap<string, FileScope>,
  ) {}

  params(decl: ConnectionDecl): ConnectionParam[] {
    const known = this.paramCache.get(decl);
    if (known) return known;
    const out: ConnectionParam[] = [];
    for (const p of decl.params) {
      if (out.some((q) => q.name === p.name.name)) {
        const first = out.find((q) => q.name === p.name.name)!;
        this.bag.report(Diag.DuplicateParameter, p.name.span, [p.name.name], { label: "declared again here", secondary: [{ span: first.span, message: "first declared here" }] });
        continue;
      }
      const typeName = p.type.kind === "NamedType" ? p.type.name.name : "a shape";
      const type = (["int", "float", "bool"] as const).find((t) => t === typeName);
      if (!type) {
        const help = didYouMean(typeName, ["int", "float", "bool"]);
        this.bag.report(Diag.BadParameterType, p.type.span, [typeName], { label: "connection parameters are `int`, `float` or `bool`", ...(help ? { help } : {}) });
        continue;
      }
      out.push({ name: p.name.name, type, ...(p.default ? { default: p.default } : {}), span: p.span });
    }
    this.paramCache.set(decl, out);
    return out;
  }

  /** Checks a declaration on its own: for every value of its parameters, then with its defaults. */
  checkDeclaration(decl: ConnectionDecl, scope: FileScope): void {
    const params = this.params(decl);
    this.instantiate(decl, scope, "generic");
    if (params.every((p) => p.default)) this.instantiate(decl, scope, new Map());
  }

  /**
   * Resolves `mhc(n = 4)` (or a bare `mhc`) written in a model to a checked
   * connection instance. Reports unknown connections and bad arguments.
   */
  resolveCall(value: Expr, scope: FileScope, siteNote: string): CheckedConnection | undefined {
    const call = asCall(value);
    if (!call) {
      if (value.kind !== "ErrorExpr") this.bag.report(Diag.BadFieldValue, value.span, ["connection", "a connection such as `mhc(n = 4)`"], { label: `found ${value.kind === "Number" ? "a number" : "an expression"}` });
      return undefined;
    }
    const target = scope.lookup(call.callee.name);
    if (!target || target.kind !== "connection") {
      if (target) this.bag.report(Diag.NotAConnection, call.callee.span, [call.callee.name, target.kind], { label: `this is a ${target.kind}` });
      else {
        const help = didYouMean(call.callee.name, scope.names("connection"));
        this.bag.report(Diag.UnknownConnection, call.callee.span, [call.callee.name], { label: "not found", ...(help ? { help } : { notes: [`connections in scope: ${scope.names("connection").map((c) => `\`${c}\``).join(", ")}`] }) });
      }
      return undefined;
    }
    const declScope = this.scopes.get(target.file.absPath) ?? scope;
    const params = this.params(target.decl);
    const bound = bindArguments(call, params.map((p) => ({ name: p.name, optional: p.default !== undefined, span: p.span })), this.bag);
    const evaluator = new Evaluator(this.bag, noConstraints);
    const args = new Map<string, Value>();
    let ok = true;
    for (const p of params) {
      const arg = bound.get(p.name);
      if (!arg) continue;
      const v = checkParamValue(evaluator.expr(arg.value, new Env()), p, arg.value.span, evaluator);
      if (v.kind === "error") ok = false;
      args.set(p.name, v);
    }
    if (!ok || bound.size < params.filter((p) => !p.default).length) return undefined;
    return this.instantiate(target.decl, declScope, args, { note: siteNote, span: call.span });
  }

  private instantiate(decl: ConnectionDecl, scope: FileScope, given: ReadonlyMap<string, Value> | "generic", site?: EvaluationSite): CheckedConnection | undefined {
    const key = `${decl.span.file}:${decl.span.start}:${given === "generic" ? "generic" : [...given].map(([k, v]) => `${k}=${showValue(v)}`).join(",")}`;
    if (this.instances.has(key)) return this.instances.get(key);
    const result = this.check(decl, scope, given, site);
    this.instances.set(key, result);
    return result;
  }

  private check(decl: ConnectionDecl, scope: FileScope, given: ReadonlyMap<string, Value> | "generic", site?: EvaluationSite): CheckedConnection | undefined {
    const bag = this.bag;
    const evaluator = new Evaluator(bag, noConstraints, site);
    const env = new Env();
    const args = new Map<string, Value>();
    for (const p of this.params(decl)) {
      const unknown: Value = p.type === "int" ? { kind: "int", value: P.atom(p.name) } : { kind: p.type };
      const value: Value =
        given === "generic" ? unknown : (given.get(p.name) ?? (p.default ? checkParamValue(evaluator.expr(p.default, env), p, p.default.span, evaluator) : unknown));
      env.define(p.name, { kind: "connection-param", value, span: p.span });
      args.set(p.name, value);
    }
    const where = `connection \`${decl.name.name}\``;
    const fields = collectFields(decl.fields, CONNECTION_FIELDS, where, bag, { mode: SLOTS, init: SLOTS });

    const examples: Record<string, string> = { streams: "streams 4", pre: "pre dynamic sigmoid_eps()", post: "post dynamic scaled_sigmoid()", res: "res dynamic sinkhorn()" };
    const missing = ["streams", ...SLOTS].filter((f) => !fields.has(f)).map((name) => ({ name, example: examples[name]! }));
    reportMissing(missing, where, decl.name.span, bag);
    const streamsField = fields.get("streams");
    let streams: P.Poly | undefined;
    if (streamsField) {
      const v = evaluator.expr(streamsField.value, env);
      if (v.kind === "int") {
        const c = P.constantValue(v.value);
        if (c !== undefined && c < 1) evaluator.report(Diag.BadStreams, streamsField.value.span, [c], { label: "needs at least one stream", help: "`streams 1` is the plain residual" });
        else streams = v.value;
      } else if (v.kind !== "error") evaluator.report(Diag.TypeMismatch, streamsField.value.span, ["`int` stream count", describe(v)]);
    }

    const norm = this.norm(fields.get("norm"), evaluator, env);
    const alphaField = fields.get("alpha");
    let alpha = DEFAULT_ALPHA;
    if (alphaField) {
      const v = evaluator.expr(alphaField.value, env);
      const value = numberValue(v);
      if (v.kind !== "int" && v.kind !== "float" && v.kind !== "error") evaluator.report(Diag.BadFieldValue, alphaField.value.span, ["alpha", "a number (the initial value of the alpha gates)"], { label: `found ${describe(v)}` });
      else if (value !== undefined) alpha = value;
    }
    const projectionField = fields.get("projection");
    const projection = (projectionField ? enumValue(projectionField.value, PROJECTIONS, "projection", bag) : "flat") as Projection | undefined;

    // Inside maps, `n` is the stream count (unless a parameter is called `n`).
    const mapEnv = env.child();
    if (streams && !env.has("n")) mapEnv.define("n", { kind: "stream-count", value: { kind: "int", value: streams } });
    const maps: Partial<Record<Slot, CheckedMap>> = {};
    for (const slot of SLOTS) {
      const field = fields.get(slot);
      if (!field || !streams) continue;
      const map = this.map(slot, field, streams, mapEnv, scope, evaluator, site);
      if (map) maps[slot] = map;
    }
    if (streams && projection === "per_stream") this.checkPerStream(maps, streams, evaluator);
    if (!streams || !norm || projection === undefined || !maps.pre || !maps.post || !maps.res) return undefined;
    return { decl, name: decl.name.name, args, streams, norm, alpha, projection, maps: { pre: maps.pre, post: maps.post, res: maps.res } };
  }

  private norm(field: ValueField | undefined, evaluator: Evaluator, env: Env): CheckedConnection["norm"] | undefined {
    if (!field) return { kind: "rms", eps: DEFAULT_NORM_EPS };
    const call = asCall(field.value);
    const kind = enumValue(call ? { kind: "Name", name: call.callee.name, span: call.callee.span } : field.value, NORMS, "norm", this.bag) as NormKind | undefined;
    if (!kind) return undefined;
    let eps = DEFAULT_NORM_EPS;
    if (call && call.args.length > 0) {
      const bound = bindArguments(call, kind === "none" ? [] : [{ name: "eps", optional: true }], this.bag);
      const arg = bound.get("eps");
      if (arg) {
        const value = numberValue(evaluator.expr(arg.value, env));
        if (value !== undefined && !(value > 0)) evaluator.report(Diag.FieldRange, arg.value.span, ["eps", "positive", String(value)], { label: "must be greater than 0" });
        else if (value !== undefined) eps = value;
      }
    }
    return { kind, eps };
  }

  private map(slot: Slot, field: ValueField, n: P.Poly, env: Env, scope: FileScope, evaluator: Evaluator, site: EvaluationSite | undefined): CheckedMap | undefined {
    const bag = this.bag;
    const call = asCall(field.value);
    if (!call) {
      if (field.value.kind !== "ErrorExpr") bag.report(Diag.BadFieldValue, field.value.span, [slot, "a constraint such as `sinkhorn(iters = 20)`"], { label: "not a constraint" });
      return undefined;
    }
    const name = call.callee.name;
    const target = scope.lookup(name);
    if (!target || target.kind !== "constraint") {
      if (target) bag.report(Diag.NotCallable, call.callee.span, [name, target.kind], { label: `a ${target.kind}, not a constraint` });
      else if (builtins.has(name)) {
        bag.report(Diag.BuiltinAsMap, call.callee.span, [name], { label: "maps take a constraint", help: `wrap it in a constraint: \`constraint my_${name}(L: tensor) -> tensor { return ${name}(L) }\`` });
      } else {
        const help = didYouMean(name, scope.names("constraint"));
        bag.report(Diag.UnknownFunction, call.callee.span, [name], { label: "no such constraint", ...(help ? { help } : {}) });
      }
      return undefined;
    }
    const sig = this.constraints.signature(target.decl, this.scopes.get(target.file.absPath) ?? scope);
    const bound = bindArguments(call, sig.params.map((p) => ({ name: p.name, optional: p.default !== undefined, span: p.decl.span })), bag);
    const args = new Map<string, Value>();
    let ok = true;
    for (const p of sig.params) {
      const arg = bound.get(p.name);
      if (!arg) continue;
      const v = this.constraints.checkScalar(evaluator.expr(arg.value, env), p, arg.value.span, evaluator);
      if (v.kind === "error") ok = false;
      args.set(p.name, v);
    }
    if (!ok) return undefined;
    const use: EvaluationSite = site ?? { note: `\`${sig.name}\` used by \`${slot}\` here`, span: call.span };
    const slotShape: Shape = slot === "res" ? [n, n] : [n];
    const logitsShape = sig.logits.dims ? this.constraints.logitsShape(sig, n, args, use) : slotShape;
    if (!logitsShape) return undefined;
    const result = this.constraints.instantiate(sig, { n, args, logitsShape, site: use });
    if (result.kind === "error") return undefined;
    if (result.kind !== "tensor" || !shapesEqual(result.shape, slotShape)) {
      evaluator.report(Diag.SlotShape, field.value.span, [slot, showShape(slotShape), sig.name, describe(result)], {
        label: `returns ${describe(result)}`,
        notes: [slot === "res" ? "`res` mixes n streams into n streams: it needs an [n, n] matrix" : `\`${slot}\` weighs the n streams: it needs an [n] vector`],
      });
      return undefined;
    }
    const mode = field.mode?.value ?? "dynamic";
    const usesLogits = result.usesLogits;
    if (!usesLogits && mode !== "static") {
      bag.report(Diag.UnusedLogits, call.span, [sig.name, slot], { label: "its result does not depend on its logits" });
    }
    if (field.init) this.checkInit(slot, field.init, logitsShape, env, evaluator);
    return {
      slot,
      mode,
      constraint: sig,
      args,
      logitsShape,
      k: elementCount(logitsShape),
      usesLogits,
      ...(field.init ? { init: field.init } : {}),
      span: field.span,
    };
  }

  /** `init` must be a number, or a tensor that broadcasts to the logits' shape. */
  private checkInit(slot: Slot, init: Expr, logitsShape: Shape, env: Env, evaluator: Evaluator): void {
    const scope = env.child();
    scope.define("layer", { kind: "layer", value: { kind: "int", value: P.atom("layer") } });
    const v = evaluator.expr(init, scope);
    if (v.kind === "error" || v.kind === "int" || v.kind === "float") return;
    if (v.kind !== "tensor") {
      evaluator.report(Diag.TypeMismatch, init.span, ["a number or a tensor", describe(v)]);
      return;
    }
    const joined = broadcastShapes(logitsShape, v.shape);
    if (!joined || !shapesEqual(joined, logitsShape)) {
      evaluator.report(Diag.InitShape, init.span, [slot, showShape(v.shape), showShape(logitsShape)], { label: `this is ${showShape(v.shape)}` });
    }
  }

  private checkPerStream(maps: Partial<Record<Slot, CheckedMap>>, n: P.Poly, evaluator: Evaluator): void {
    const streams = P.constantValue(n);
    for (const map of Object.values(maps)) {
      if (!map.usesLogits || map.mode === "static") continue;
      const k = P.constantValue(map.k);
      if (streams !== undefined && k !== undefined && k % streams !== 0) {
        evaluator.report(Diag.PerStreamWidth, map.span, [map.slot, k, streams], { label: `${k} logits for ${streams} streams` });
      }
    }
  }
}

/** Connection fields and model fields call no constraints except through maps. */
const noConstraints: ConstraintCalls = { has: () => false, names: () => [], call: () => ERROR };

export function asCall(value: Expr): CallExpr | undefined {
  if (value.kind === "Call") return value;
  if (value.kind === "Name") return { kind: "Call", callee: { name: value.name, span: value.span }, args: [], span: value.span };
  return undefined;
}

function checkParamValue(value: Value, param: ConnectionParam, where: import("../source/span.js").Span, evaluator: Evaluator): Value {
  if (value.kind === "error" || value.kind === param.type) return value;
  if (param.type === "float" && value.kind === "int") {
    const c = P.constantValue(value.value);
    return { kind: "float", ...(c !== undefined ? { value: c } : {}) };
  }
  evaluator.report(Diag.TypeMismatch, where, [`\`${param.type}\` for \`${param.name}\``, describe(value)], { label: `expected \`${param.type}\``, secondary: [{ span: param.span, message: "parameter declared here" }] });
  return ERROR;
}

function showValue(v: Value): string {
  if (v.kind === "int") return P.show(v.value);
  if (v.kind === "float" || v.kind === "bool") return String(v.value);
  return v.kind;
}
