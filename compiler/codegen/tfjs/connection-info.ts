import { Builder } from "../../ir/builder.js";
import { IrError } from "../../ir/errors.js";
import { Graph } from "../../ir/graph.js";
import { interpret } from "../../ir/interpret.js";
import { shapesEqual, type Dim } from "../../ir/shape.js";
import { constraintResolver } from "../../lower/constraint-graph.js";
import { ExprLowering } from "../../lower/lower-expr.js";
import { concreteInt, connectionParameters, hasProjection } from "../../lower/parameters.js";
import { num, type CompileValue, type Lowered } from "../../lower/values.js";
import type { CheckedConnection, CheckedMap, Slot } from "../../sema/checked.js";
import { SLOTS } from "../../sema/checked.js";
import type { CheckedProgram } from "../../sema/index.js";
import * as P from "../../sema/poly.js";
import type { FileScope } from "../../sema/symbols.js";
import type { Value } from "../../sema/values.js";
import type { SourceSet } from "../../source/source-set.js";

/** What a generated module and its manifest entry state about one map. */
export interface MapInfo {
  readonly slot: Slot;
  readonly mode: CheckedMap["mode"];
  readonly constraint: string;
  /** Every compile-time argument of the constraint, defaults filled in, in declaration order. */
  readonly args: readonly (readonly [string, CompileValue])[];
  readonly logitsShape: readonly number[];
  readonly k: number;
  readonly projection: boolean;
  /** The `init` expression as written, or undefined for the default (zero logits). */
  readonly initSource?: string;
  /** The initial bias logits, `[k]` row-major, evaluated at compile time with `layer = 0`. */
  readonly bias: readonly number[];
}

export interface ConnectionInfo {
  readonly name: string;
  readonly n: number;
  /** The connection's own parameters with their (default) values, in declaration order. */
  readonly args: readonly (readonly [string, CompileValue])[];
  readonly norm: CheckedConnection["norm"];
  readonly projection: CheckedConnection["projection"];
  readonly alpha: number;
  readonly parameters: readonly { readonly name: string; readonly shape: readonly Dim[] }[];
  readonly maps: Readonly<Record<Slot, MapInfo>>;
}

/** The scope of the file a declaration lives in (spans carry display paths). */
export function scopeOfFile(checked: CheckedProgram, displayPath: string): FileScope {
  for (const file of checked.program.files.values()) {
    if (file.displayPath === displayPath) {
      const scope = checked.scopes.get(file.absPath);
      if (scope) return scope;
    }
  }
  throw new IrError(`tfjs codegen: no scope for ${displayPath}`);
}

function compileValue(v: Value, what: string): CompileValue {
  if (v.kind === "int") return concreteInt(v.value, what);
  if ((v.kind === "float" || v.kind === "bool") && v.value !== undefined) return v.value;
  throw new IrError(`tfjs codegen: ${what} is not known at compile time`);
}

function lowered(v: CompileValue): Lowered {
  return typeof v === "boolean" ? { kind: "bool", value: v } : num(v);
}

function fromLowered(v: Lowered, what: string): CompileValue {
  if (v.kind === "number" || v.kind === "bool") return v.value;
  throw new IrError(`tfjs codegen: ${what} is not a compile-time scalar`);
}

/** The constraint's arguments: given ones, then defaults evaluated in the constraint's scope. */
function mapArguments(checked: CheckedProgram, map: CheckedMap, n: number): [string, CompileValue][] {
  const sig = map.constraint;
  const lowering = new ExprLowering(new Builder(new Graph(), { dtype: "f64" }), 0, constraintResolver(checked), sig.scope, n);
  const env = new Map<string, Lowered>([["n", num(n)]]);
  const out: [string, CompileValue][] = [];
  for (const p of sig.params) {
    const given = map.args.get(p.name);
    let value: Lowered;
    if (given) value = lowered(compileValue(given, `${sig.name}(${p.name})`));
    else if (p.default) value = lowering.expr(p.default, env);
    else throw new IrError(`tfjs codegen: no value for ${sig.name}(${p.name})`);
    env.set(p.name, value);
    out.push([p.name, fromLowered(value, `${sig.name}(${p.name})`)]);
  }
  return out;
}

/**
 * The initial bias logits of a map: its `init` expression evaluated over `n`,
 * `layer = 0` (a standalone connection) and the connection's parameters, broadcast to
 * the logits' shape and flattened row-major; zeros when there is no `init` (the
 * prelude's documented default).
 */
function initialBias(checked: CheckedProgram, conn: CheckedConnection, map: CheckedMap, n: number, layer: number): number[] {
  const logitsShape = map.logitsShape.map((d, i) => concreteInt(d, `dimension ${i} of the logits of ${map.slot}`));
  const k = logitsShape.reduce((a, b) => a * b, 1);
  if (!map.init) return new Array<number>(k).fill(0);
  const b = new Builder(new Graph(), { dtype: "f64" });
  const scope = scopeOfFile(checked, conn.decl.span.file);
  const lowering = new ExprLowering(b, 0, constraintResolver(checked), scope, n);
  const env = new Map<string, Lowered>();
  for (const [name, v] of conn.args) {
    env.set(name, lowered(compileValue(v, `parameter ${name} of ${conn.name}`)));
  }
  env.set("n", num(n));
  env.set("layer", num(layer));
  const value = lowering.expr(map.init, env);
  if (value.kind === "number") return new Array<number>(k).fill(value.value);
  const node = lowering.tensor(value).node;
  const full = shapesEqual(node.shape, logitsShape) ? node : b.broadcastTo(node, logitsShape);
  b.graph.output("bias", b.reshape(full, [k]));
  return Array.from(interpret(b.graph, {})["bias"]!.data);
}

export function connectionInfo(checked: CheckedProgram, sources: SourceSet, conn: CheckedConnection, options: { layer?: number } = {}): ConnectionInfo {
  const n = concreteInt(conn.streams, "the stream count");
  const maps = {} as Record<Slot, MapInfo>;
  for (const slot of SLOTS) {
    const map = conn.maps[slot];
    const logitsShape = map.logitsShape.map((d, i) => concreteInt(d, `dimension ${i} of the logits of ${slot}`));
    const initSource = map.init ? sources.get(map.init.span.file)?.text.slice(map.init.span.start, map.init.span.end) : undefined;
    maps[slot] = {
      slot,
      mode: map.mode,
      constraint: map.constraint.name,
      args: mapArguments(checked, map, n),
      logitsShape,
      k: P.constantValue(map.k) ?? logitsShape.reduce((a, b) => a * b, 1),
      projection: hasProjection(map),
      ...(initSource !== undefined ? { initSource } : {}),
      bias: initialBias(checked, conn, map, n, options.layer ?? 0),
    };
  }
  const args = [...conn.args].map(([name, v]) => [name, compileValue(v, `parameter ${name} of ${conn.name}`)] as const);
  return {
    name: conn.name,
    n,
    args,
    norm: conn.norm,
    projection: conn.projection,
    alpha: conn.alpha,
    parameters: connectionParameters(conn, "C"),
    maps,
  };
}
