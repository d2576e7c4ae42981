import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { DiagnosticBag } from "../../diagnostics/bag.js";
import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { CheckResult } from "../../driver.js";
import { interpret } from "../../ir/interpret.js";
import { makeTensor, type Tensor } from "../../ir/tensor.js";
import { checkFinite, expectShape, expectTensors, formatShape, makeNdArray } from "../../io/ndarray.js";
import { readNpy, writeNpy } from "../../io/npy.js";
import { readSafetensors } from "../../io/safetensors.js";
import { buildSublayerGraph } from "../../lower/sublayer-graph.js";
import type { CompileValue } from "../../lower/values.js";
import type { Argument, CallExpr, Expr } from "../../../grammar/ast.js";
import type { CheckedConnection } from "../../sema/checked.js";
import { ConnectionChecker } from "../../sema/connections.js";
import { ConstraintChecker } from "../../sema/constraints.js";
import * as P from "../../sema/poly.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { checkOrReport, failWith, parseSettings, reportDiagnostics, unknownSetting } from "./common.js";
import { RUN_MODEL_USAGE, runModelCommand, type RunModelOptions } from "./run-model.js";

export interface RunOptions extends RunModelOptions {
  readonly connection?: string;
  readonly input?: string;
  readonly coefficients?: string;
  readonly set?: unknown;
  readonly dtype?: string;
}

export const RUN_USAGE = `usage: mhc run FILE --connection NAME --input X.npy --weights W.safetensors --out Y.npy [--coefficients DIR] [--set k=v]...\n   or: ${RUN_MODEL_USAGE}`;

/**
 * `mhc run FILE --connection NAME --input X.npy --weights W.safetensors --out Y.npy`:
 * one sublayer of design.md §1 with the identity as F, on the reference
 * interpreter (float64 maths; float32 or float64 inputs and weights).
 * `--coefficients DIR` also writes `pre.npy [T, n]`, `post.npy [T, n]` and
 * `res.npy [T, n, n]` (`res[t, out, in]`).
 *
 * With `--model NAME` it runs a whole model on tokens instead (`run-model.ts`).
 */
export function runCommand(file: string | undefined, options: RunOptions, io: CliIO, argv?: readonly string[]): ExitCode | Promise<ExitCode> {
  if (!file) throw new UsageError(RUN_USAGE);
  if (options.model !== undefined) {
    const stray = (["connection", "input", "coefficients", "set", "dtype"] as const).find((flag) => options[flag] !== undefined);
    if (stray) throw new UsageError(`\`--${stray}\` is for \`mhc run --connection\`, not \`--model\`; usage: ${RUN_MODEL_USAGE}`);
    return runModelCommand(file, options, io, argv);
  }
  const stray = (["tokens", "text", "backend", "reference"] as const).find((flag) => options[flag] !== undefined);
  if (stray) throw new UsageError(`\`--${stray}\` needs \`--model\`; usage: ${RUN_MODEL_USAGE}`);
  for (const flag of ["connection", "input", "weights", "out"] as const) if (!options[flag]) throw new UsageError(`\`mhc run\` needs \`--${flag}\``);
  const dtype = options.dtype ?? "float64";
  if (dtype !== "float64" && dtype !== "float32") throw new UsageError(`\`--dtype ${dtype}\`: expected \`float64\` or \`float32\``);
  const settings = parseSettings(options.set);
  const fail = (d: Diagnostic[]) => failWith(d, file, io, options);

  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;

  const input = readNpy(resolve(io.cwd, options.input!));
  if (!input.ok) return fail([input.diagnostic]);
  const x = input.value;
  const problems = [expectShape(options.input!, x, ["T", "n", "C"]), checkFinite(x, options.input!)].filter((d): d is Diagnostic => d !== undefined);
  if (problems.length > 0) return fail(problems);
  const [T, n, C] = x.shape as [number, number, number];

  const connection = instantiate(checked, file, options.connection!, settings, n, io);
  if ("diagnostics" in connection) {
    if (connection.diagnostics.length > 0 && connection.inSource) {
      reportDiagnostics(connection.diagnostics, checked.sources, [file], io, options);
      return ExitCode.UserError;
    }
    return fail(connection.diagnostics);
  }
  const streams = P.constantValue(connection.streams);
  if (streams !== n) {
    return fail([makeDiagnostic(Diag.InputShape, undefined, [options.input!, formatShape(x.shape), `[T, ${streams}, C] for \`${connection.name}\` (${streams} streams)`], { help: "pass `--set n=...` when the connection takes its stream count as a parameter" })]);
  }

  const weights = readSafetensors(resolve(io.cwd, options.weights!));
  if (!weights.ok) return fail([weights.diagnostic]);
  const { graph, parameters } = buildSublayerGraph(checked.checked, connection, { dtype: "f64" });
  const expected = parameters.map((p) => ({ name: p.name, shape: p.shape.map((d) => (typeof d === "number" ? d : concreteDim(d, C))) }));
  const tensorProblems = expectTensors(options.weights!, weights.value.tensors, expected);
  for (const p of expected) {
    const t = weights.value.tensors.get(p.name);
    const bad = t && checkFinite(t, `${options.weights!}: ${p.name}`);
    if (bad) tensorProblems.push(bad);
  }
  if (tensorProblems.length > 0) return fail(tensorProblems);

  const inputs: Record<string, Tensor> = { x: makeTensor(x.shape, x.data) };
  for (const p of expected) {
    const t = weights.value.tensors.get(p.name)!;
    inputs[p.name] = makeTensor(t.shape, t.data);
  }
  const outputs = interpret(graph, inputs, { precision: dtype === "float32" ? "f32" : "f64" });
  const outType = dtype === "float32" ? "f32" : "f64";
  const files: [string, Tensor][] = [[resolve(io.cwd, options.out!), outputs["y"]!]];
  if (options.coefficients) {
    const dir = resolve(io.cwd, options.coefficients);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      return fail([makeDiagnostic(Diag.CannotWrite, undefined, [options.coefficients, String((error as Error).message)])]);
    }
    files.push([join(dir, "pre.npy"), outputs["H_pre"]!], [join(dir, "post.npy"), outputs["H_post"]!], [join(dir, "res.npy"), outputs["H_res"]!]);
  }
  for (const [path, tensor] of files) {
    const bad = tensor.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) return fail([makeDiagnostic(Diag.NonFiniteOutput, undefined, [connection.name, Number.isNaN(tensor.data[bad]!) ? "NaN" : "an infinity", String(bad)])]);
    const written = writeNpy(path, makeNdArray(outType, tensor.shape, tensor.data));
    if (!written.ok) return fail([makeDiagnostic(Diag.CannotWrite, undefined, [path, written.reason])]);
  }
  io.stderr.write(`wrote ${options.out}: ${formatShape([T, n, C])} ${dtype} (\`${connection.name}\`, n = ${n}, C = ${C}, T = ${T})${options.coefficients ? `; coefficients in ${options.coefficients}/` : ""}\n`);
  return ExitCode.Ok;
}

function concreteDim(dim: string, C: number): number {
  const m = /^(?:(\d+)\*)?C$/.exec(dim);
  if (!m) throw new Error(`unexpected parameter dimension ${dim}`);
  return Number(m[1] ?? 1) * C;
}

/**
 * The connection with the given settings; a parameter named `n` takes the
 * input's stream count unless `--set` gives it. Problems inside the file (a
 * value that breaks a constraint) come back as source diagnostics.
 */
function instantiate(checked: CheckResult, file: string, name: string, settings: Map<string, CompileValue>, n: number, io: CliIO): CheckedConnection | { diagnostics: Diagnostic[]; inSource: boolean } {
  const scope = checked.checked.scopes.get(resolve(io.cwd, file))!;
  const target = scope.lookup(name);
  if (target?.kind !== "connection") {
    const help = didYouMean(name, scope.names("connection"));
    return { diagnostics: [makeDiagnostic(Diag.UnknownConnection, undefined, [name], { ...(help ? { help } : {}), notes: [`connections in \`${file}\`: ${scope.names("connection").map((c) => `\`${c}\``).join(", ")}`] })], inSource: false };
  }
  const params = target.decl.params.map((p) => p.name.name);
  const unknown = [...settings.keys()].filter((k) => !params.includes(k)).map((k) => unknownSetting(k, name, params));
  if (unknown.length > 0) return { diagnostics: unknown, inSource: false };
  const values = new Map(settings);
  if (params.includes("n") && !values.has("n")) values.set("n", n);
  // Build the call `name(k = v, ...)` as the user could have written it, and check it like one.
  const at = target.decl.name.span;
  const literal = (v: CompileValue): Expr =>
    typeof v === "boolean" ? { kind: "Bool", value: v, span: at } : { kind: "Number", value: v, text: String(v), isInteger: Number.isInteger(v), span: at };
  const args: Argument[] = [...values].map(([k, v]) => ({ kind: "Argument", name: { name: k, span: at }, value: literal(v), span: at }));
  const call: CallExpr = { kind: "Call", callee: { name, span: at }, args, span: at };
  const bag = new DiagnosticBag();
  const constraints = new ConstraintChecker(bag, checked.checked.scopes);
  const connections = new ConnectionChecker(bag, constraints, checked.checked.scopes);
  const instance = connections.resolveCall(call, scope, `run with ${[...values].map(([k, v]) => `${k} = ${String(v)}`).join(", ") || "its defaults"}`);
  if (!instance || bag.hasErrors()) return { diagnostics: [...bag.diagnostics], inSource: true };
  return instance;
}
