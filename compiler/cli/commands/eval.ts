import { DiagnosticBag } from "../../diagnostics/bag.js";
import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import { interpret } from "../../ir/interpret.js";
import { makeTensor } from "../../ir/tensor.js";
import { checkFinite, formatShape, makeNdArray, unravelIndex, type NdArray } from "../../io/ndarray.js";
import { readNpy, writeNpy } from "../../io/npy.js";
import { buildConstraintGraph, concreteLogitsShape } from "../../lower/constraint-graph.js";
import type { CompileValue } from "../../lower/values.js";
import type { CheckResult } from "../../driver.js";
import { ConstraintChecker, type ConstraintSignature } from "../../sema/constraints.js";
import * as P from "../../sema/poly.js";
import type { Value } from "../../sema/values.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { checkOrReport, checkSetting, failWith, parseSettings, reportDiagnostics, unknownSetting } from "./common.js";
import { resolve } from "node:path";

export interface EvalOptions {
  readonly constraint?: string;
  readonly logits?: string;
  readonly out?: string;
  readonly set?: unknown;
  readonly dtype?: string;
  readonly n?: number;
  readonly format?: string;
  readonly color?: boolean;
}

/** The largest stream count tried when `n` is inferred from the logits' shape. */
const MAX_INFERRED_N = 64;

/**
 * `mhc eval FILE --constraint NAME --logits L.npy --out H.npy`: runs one
 * constraint on a batch of logits with the float64 reference interpreter
 * (`--dtype float32` rounds every operation to float32). `n` comes from the
 * logits' trailing shape; leading dimensions are a batch.
 */
export function evalCommand(file: string | undefined, options: EvalOptions, io: CliIO): ExitCode {
  if (!file) throw new UsageError("usage: mhc eval FILE --constraint NAME --logits L.npy --out H.npy");
  for (const flag of ["constraint", "logits", "out"] as const) if (!options[flag]) throw new UsageError(`\`mhc eval\` needs \`--${flag}\``);
  const dtype = options.dtype ?? "float64";
  if (dtype !== "float64" && dtype !== "float32") throw new UsageError(`\`--dtype ${dtype}\`: expected \`float64\` or \`float32\``);
  if (options.n !== undefined && (!Number.isInteger(options.n) || options.n < 1)) throw new UsageError("`--n` must be a positive integer");
  const settings = parseSettings(options.set);
  const fail = (d: Diagnostic[]) => failWith(d, file, io, options);

  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  const sig = findConstraint(checked, file, options.constraint!, io);
  if ("diagnostic" in sig) return fail([sig.diagnostic]);

  const settingErrors: Diagnostic[] = [];
  for (const [name, value] of settings) {
    const param = sig.params.find((p) => p.name === name);
    const problem = param ? checkSetting(name, value, param.type, sig.name) : unknownSetting(name, sig.name, sig.params.map((p) => p.name));
    if (problem) settingErrors.push(problem);
  }
  if (settingErrors.length > 0) return fail(settingErrors);

  const logitsPath = resolve(io.cwd, options.logits!);
  const read = readNpy(logitsPath);
  if (!read.ok) return fail([read.diagnostic]);
  const logits = read.value;
  const nonFinite = checkFinite(logits, options.logits!);
  if (nonFinite) return fail([nonFinite]);

  const layout = inferLayout(checked, sig, logits, options.logits!, settings, options.n);
  if ("diagnostic" in layout) return fail([layout.diagnostic]);

  // Problems that depend on the values (`iters = 0` makes a `repeat` count negative) are sema's to report.
  const bag = new DiagnosticBag();
  const instantiation = new ConstraintChecker(bag, checked.checked.scopes);
  const args = new Map<string, Value>([...settings].map(([k, v]) => [k, toValue(v)]));
  const result = instantiation.instantiate(instantiation.signature(sig.decl, sig.scope), { n: P.constant(layout.n), args, logitsShape: layout.shape.map(P.constant) });
  if (bag.hasErrors() || result.kind === "error") {
    const setting = [`n = ${layout.n}`, ...[...settings].map(([k, v]) => `${k} = ${String(v)}`)].join(", ");
    const withNote = bag.diagnostics.map((d) => ({ ...d, notes: [...d.notes, `when \`${sig.name}\` is evaluated with ${setting}`] }));
    reportDiagnostics(withNote, checked.sources, [file], io, { ...options, verb: "evaluate" });
    return ExitCode.UserError;
  }

  const batch = logits.shape.slice(0, logits.shape.length - layout.shape.length);
  const tokens = batch.reduce((a, b) => a * b, 1);
  const graph = buildConstraintGraph(checked.checked, sig, layout.n, settings, layout.shape);
  const H = interpret(graph.graph, { L: makeTensor([tokens, ...layout.shape], logits.data) }, { precision: dtype === "float32" ? "f32" : "f64" })["H"]!;
  const resultShape = H.shape.slice(1);
  const out: NdArray = makeNdArray(dtype === "float32" ? "f32" : "f64", [...batch, ...resultShape], H.data);
  const bad = out.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const value = Number.isNaN(out.data[bad]!) ? "NaN" : "an infinity";
    return fail([makeDiagnostic(Diag.NonFiniteOutput, undefined, [sig.name, value, formatShape(unravelIndex(bad, out.shape))], { notes: ["the constraint divides by zero or overflows for these logits; add an `eps` or subtract a maximum"] })]);
  }
  const written = writeNpy(resolve(io.cwd, options.out!), out);
  if (!written.ok) return fail([makeDiagnostic(Diag.CannotWrite, undefined, [options.out!, written.reason])]);
  const described = [`n = ${layout.n}`, ...[...settings].map(([k, v]) => `${k} = ${String(v)}`)].join(", ");
  io.stderr.write(`wrote ${options.out}: ${formatShape(out.shape)} ${dtype} (\`${sig.name}\`, ${described}, ${tokens} batch element${tokens === 1 ? "" : "s"})\n`);
  return ExitCode.Ok;
}

function toValue(v: CompileValue): Value {
  if (typeof v === "boolean") return { kind: "bool", value: v };
  return Number.isInteger(v) ? { kind: "int", value: P.constant(v) } : { kind: "float", value: v };
}

/** A constraint visible in the entry file (its own, imported, or the prelude's). */
export function findConstraint(checked: CheckResult, file: string, name: string, io: CliIO): ConstraintSignature | { diagnostic: Diagnostic } {
  const scope = checked.checked.scopes.get(resolve(io.cwd, file));
  const target = scope?.lookup(name);
  if (!scope || target?.kind !== "constraint") {
    const help = scope ? didYouMean(name, scope.names("constraint")) : undefined;
    return {
      diagnostic: makeDiagnostic(Diag.UnknownFunction, undefined, [name], {
        ...(help ? { help } : {}),
        notes: [target ? `\`${name}\` is a ${target.kind}` : `constraints in \`${file}\`: ${scope?.names("constraint").map((c) => `\`${c}\``).join(", ") ?? "none"}`],
      }),
    };
  }
  return checked.checked.checkers.constraints.signature(target.decl, checked.checked.scopes.get(target.file.absPath) ?? scope);
}

/**
 * Which trailing dimensions of the array are one constraint's logits, and the
 * `n` they imply: the smallest `n` whose declared logits shape matches, or for
 * a shape-polymorphic constraint a trailing `[n, n]` (when the last two
 * dimensions are equal) or else `[n]`. `--n` decides when given.
 */
function inferLayout(checked: CheckResult, sig: ConstraintSignature, logits: NdArray, what: string, settings: ReadonlyMap<string, CompileValue>, given: number | undefined): { n: number; shape: number[] } | { diagnostic: Diagnostic } {
  const trailing = (k: number) => logits.shape.slice(logits.shape.length - k);
  const matches = (shape: readonly number[]) => shape.length <= logits.shape.length && trailing(shape.length).every((d, i) => d === shape[i]);
  const candidates = given !== undefined ? [given] : Array.from({ length: MAX_INFERRED_N }, (_, i) => i + 1);
  for (const n of candidates) {
    const declared = concreteLogitsShape(checked.checked, sig, n, settings);
    const shapes = declared ? [declared] : logits.shape.length >= 2 && trailing(2)[0] === trailing(2)[1] ? [[n, n], [n]] : [[n], [n, n]];
    const found = shapes.find(matches);
    if (found) return { n, shape: found };
  }
  const expected = sig.logits.dims ? `[..., ${describeDims(checked, sig, settings)}]` : "[..., n] or [..., n, n]";
  return { diagnostic: makeDiagnostic(Diag.InputShape, undefined, [what, formatShape(logits.shape), `${expected} for \`${sig.name}\`${given !== undefined ? ` with n = ${given}` : ""}`]) };
}

function describeDims(checked: CheckResult, sig: ConstraintSignature, settings: ReadonlyMap<string, CompileValue>): string {
  const at4 = concreteLogitsShape(checked.checked, sig, 4, settings);
  return at4 ? `${at4.join(", ")} (at n = 4)` : "?";
}
