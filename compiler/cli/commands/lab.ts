import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { useColor } from "../../diagnostics/render.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import { describeError, writeFileAtomic } from "../../io/ndarray.js";
import { plotSpecs, renderSvg } from "../../lab/plots.js";
import { reportToJson, type LabReport } from "../../lab/report.js";
import { DEFAULT_SCALES, formatScale, prepareConstraint, runLab, type PreparedConstraint } from "../../lab/run-lab.js";
import { renderReport } from "../../lab/table.js";
import type { CompileValue } from "../../lower/values.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { checkOrReport, checkSetting, failWith, parseSettings, reportDiagnostics } from "./common.js";

export interface LabCommandOptions {
  /** `NAME[,NAME...]`; may be given more than once. */
  readonly constraint?: unknown;
  readonly n?: unknown;
  readonly depth?: unknown;
  readonly samples?: unknown;
  /** Chains for the composite gain; default `samples`. */
  readonly chains?: unknown;
  readonly seed?: unknown;
  /** Comma-separated logit scales; default 0.1,1,10,100,1e4. */
  readonly scales?: unknown;
  /** Output directory; default `lab-out`. */
  readonly out?: unknown;
  /** `--set name=value`, applied to every listed constraint that has the parameter. */
  readonly set?: unknown;
  readonly color?: boolean;
}

export const LAB_DEFAULTS = { n: 4, depth: 60, samples: 256, seed: 0, out: "lab-out" } as const;

const USAGE = "usage: mhc lab FILE --constraint NAME[,NAME...] [--n 4] [--depth 60] [--samples 256] [--seed 0] [--out DIR]";

/**
 * `mhc lab FILE --constraint NAME[,NAME...]`: the constraint laboratory
 * (design.md §5). Runs each constraint on seeded Gaussian logits at several
 * scales through the reference interpreter and reports row/column-sum error,
 * spectral norm, the paper's composite Amax gain over depth, gradient norms
 * and error vs iterations. The table goes to stdout; `report.json` and the
 * SVG plots to `--out` (each written atomically); progress to stderr on a TTY.
 *
 * Exit codes: 0; 1 for mistakes in the file or in the constraint names and
 * `--set` values, and also when a constraint produced non-finite values
 * (everything is still written, and the values are reported as errors); 2 for
 * bad flags.
 */
export async function labCommand(files: readonly string[], options: LabCommandOptions, io: CliIO): Promise<ExitCode> {
  if (files.length === 0) throw new UsageError(`no input file; ${USAGE}`);
  // With several files, a name is looked up in each in turn (the prelude's are in all of them).
  const file = files.length === 1 ? files[0]! : files.join(" ");
  const names = parseNames(options.constraint);
  const n = integerFlag("n", options.n, LAB_DEFAULTS.n, 1, 16);
  const depth = integerFlag("depth", options.depth, LAB_DEFAULTS.depth, 1, 10_000);
  const samples = integerFlag("samples", options.samples, LAB_DEFAULTS.samples, 1, 100_000);
  const chains = integerFlag("chains", options.chains, samples, 1, 100_000);
  const seed = integerFlag("seed", options.seed, LAB_DEFAULTS.seed, 0, 2 ** 32 - 1);
  const scales = parseScales(options.scales);
  // cac turns `--out 2024` into a number; any other non-string means the value was missing.
  const outRaw = typeof options.out === "number" ? String(options.out) : options.out;
  if (outRaw !== undefined && (typeof outRaw !== "string" || outRaw === "")) throw new UsageError("`--out` needs a directory");
  const outDir = (outRaw as string | undefined) ?? LAB_DEFAULTS.out;
  const settings = parseSettings(options.set);
  const fail = (d: Diagnostic[]) => failWith(d, file, io, { ...(options.color !== undefined ? { color: options.color } : {}) });

  const checked = checkOrReport(files, io, { ...(options.color !== undefined ? { color: options.color } : {}) });
  if (typeof checked === "number") return checked;
  const program = checked.checked;

  // Resolve every name first, so all mistakes are reported together.
  const scopes = files.map((f) => program.scopes.get(resolve(io.cwd, f))).filter((s) => s !== undefined);
  const scope = scopes[0];
  const problems: Diagnostic[] = [];
  const sigs = [];
  for (const name of names) {
    const target = scopes.map((s) => s.lookup(name)).find((t) => t?.kind === "constraint") ?? scope?.lookup(name);
    if (!scope || target?.kind !== "constraint") {
      const known = scope?.names("constraint") ?? [];
      const help = didYouMean(name, known);
      problems.push(
        makeDiagnostic(Diag.UnknownFunction, undefined, [name], {
          notes: [target ? `\`${name}\` is a ${target.kind}, not a constraint` : `constraints visible in \`${file}\`: ${known.map((k) => `\`${k}\``).join(", ") || "none"}`],
          ...(help ? { help } : {}),
        }),
      );
      continue;
    }
    sigs.push(program.checkers.constraints.signature(target.decl, program.scopes.get(target.file.absPath) ?? scope));
  }
  if (problems.length > 0) return fail(problems);

  problems.push(...checkSettings(settings, sigs));
  if (problems.length > 0) return fail(problems);

  const prepared: PreparedConstraint[] = [];
  for (const sig of sigs) {
    const p = prepareConstraint(program, sig, n, settings, io.cwd);
    if ("diagnostics" in p) problems.push(...p.diagnostics);
    else prepared.push(p);
  }
  if (problems.length > 0) {
    // Use-site problems (a `repeat` count that turns negative at this `n`) point into the file.
    reportDiagnostics(problems, checked.sources, [file], io, { ...(options.color !== undefined ? { color: options.color } : {}), verb: "run" });
    return ExitCode.UserError;
  }

  const progress = progressLine(io);
  const started = performance.now();
  let report: LabReport;
  try {
    report = runLab(program, file, prepared, { n, depth, samples, chains, seed, scales, settings, onProgress: progress.update }, version());
  } finally {
    progress.clear();
  }

  // Outputs: report.json and the plots, each written atomically.
  const dir = resolve(io.cwd, outDir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    return fail([makeDiagnostic(Diag.CannotWrite, undefined, [outDir, describeError(error)])]);
  }
  const outputs: { name: string; text: string }[] = [{ name: "report.json", text: reportToJson(report) }];
  for (const plot of plotSpecs(report)) outputs.push({ name: plot.name, text: await renderSvg(plot.spec) });
  for (const o of outputs) {
    const written = writeFileAtomic(join(dir, o.name), new TextEncoder().encode(o.text));
    if (!written.ok) return fail([makeDiagnostic(Diag.CannotWrite, undefined, [join(outDir, o.name), written.reason])]);
  }

  io.stdout.write(renderReport(report, useColor(io.stdout, options.color, io.env)));
  const shown = relative(io.cwd, dir) || ".";
  io.stderr.write(`wrote ${outputs.map((o) => join(shown, o.name)).join(", ")} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);

  const nonFinite = nonFiniteDiagnostics(report);
  if (nonFinite.length > 0) {
    reportDiagnostics(nonFinite, checked.sources, [file], io, { ...(options.color !== undefined ? { color: options.color } : {}), verb: "run" });
    return ExitCode.UserError;
  }
  return ExitCode.Ok;
}

function parseNames(raw: unknown): string[] {
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const names: string[] = [];
  for (const item of items) {
    if (typeof item !== "string") throw new UsageError("`--constraint` needs a name, e.g. `--constraint sinkhorn,unconstrained`");
    for (const part of item.split(",")) {
      const name = part.trim();
      if (name === "") continue;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`\`${name}\` is not a constraint name`);
      if (!names.includes(name)) names.push(name);
    }
  }
  if (names.length === 0) throw new UsageError(`\`mhc lab\` needs \`--constraint NAME[,NAME...]\`; ${USAGE}`);
  return names;
}

function integerFlag(flag: string, raw: unknown, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = typeof raw === "number" ? raw : typeof raw === "string" && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`\`--${flag}\` must be an integer from ${min} to ${max}, got \`${String(raw)}\``);
  return value;
}

function parseScales(raw: unknown): number[] {
  if (raw === undefined) return [...DEFAULT_SCALES];
  const text = typeof raw === "number" ? String(raw) : typeof raw === "string" ? raw : "";
  const scales: number[] = [];
  for (const part of text.split(",")) {
    const t = part.trim();
    const value = /^[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) ? Number(t) : NaN;
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`\`--scales\` takes positive numbers separated by commas (e.g. \`0.1,1,10\`), got \`${String(raw)}\``);
    if (!scales.includes(value)) scales.push(value);
  }
  return scales;
}

/** Every `--set` name must be a parameter of some listed constraint, with a value of its type. */
function checkSettings(settings: ReadonlyMap<string, CompileValue>, sigs: readonly { name: string; params: readonly { name: string; type: string }[] }[]): Diagnostic[] {
  const problems: Diagnostic[] = [];
  const all = [...new Set(sigs.flatMap((s) => s.params.map((p) => p.name)))];
  for (const [name, value] of settings) {
    const owners = sigs.filter((s) => s.params.some((p) => p.name === name));
    if (owners.length === 0) {
      const help = didYouMean(name, all);
      const listed = sigs.map((s) => `\`${s.name}\``).join(", ");
      problems.push(
        makeDiagnostic(Diag.BadSetting, undefined, [name, `no listed constraint (${listed}) has a parameter of that name`], help ? { help } : { notes: [all.length ? `their parameters are ${all.map((k) => `\`${k}\``).join(", ")}` : "they have no parameters"] }),
      );
      continue;
    }
    for (const sig of owners) {
      const problem = checkSetting(name, value, sig.params.find((p) => p.name === name)!.type, sig.name);
      if (problem) problems.push(problem);
    }
  }
  return problems;
}

/** One error per constraint and scale where H or its gradient was not finite. */
function nonFiniteDiagnostics(report: LabReport): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const c of report.constraints) {
    for (const s of c.scales) {
      const first = s.firstNonFinite;
      if (!first) continue;
      const counts = [s.nonFinite.outputs ? `${s.nonFinite.outputs} of ${report.settings.samples * prod(c.resultShape)} values of H` : "", s.nonFinite.gradients ? `${s.nonFinite.gradients} of ${report.settings.samples * prod(c.logitsShape)} gradient values` : ""].filter(Boolean);
      out.push(
        makeDiagnostic(Diag.NonFiniteOutput, undefined, [c.name, first.value === "NaN" ? "NaN" : "an infinity", `[${first.index.join(", ")}]${first.in === "grad_L" ? " of its gradient" : ""}`], {
          notes: [`at logits scale ${formatScale(s.scale)} (seeded Gaussian logits, seed ${report.settings.seed}; index [sample, ...]): ${counts.join(" and ")} are not finite`],
          help: "subtract a maximum before `exp`, or add an `eps` to every denominator",
        }),
      );
    }
    for (const p of c.iterations?.points ?? []) {
      if (!p.nonFinite) continue;
      out.push(
        makeDiagnostic(Diag.NonFiniteOutput, undefined, [c.name, "non-finite values", `${c.iterations!.parameter} = ${p.count}`], {
          notes: [`in the iteration sweep at logits scale ${formatScale(c.iterations!.scale)}, seed ${report.settings.seed}: ${p.nonFinite} values of H are not finite`],
        }),
      );
    }
  }
  return out;
}

const prod = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A single self-rewriting progress line on stderr when it is a terminal; silent otherwise. */
function progressLine(io: CliIO): { update: (done: number, total: number, what: string) => void; clear: () => void } {
  const active = io.stderr.isTTY === true;
  let shown = false;
  return {
    update: (done, total, what) => {
      if (!active || done >= total) return;
      io.stderr.write(`\r\x1b[2Klab [${done + 1}/${total}] ${what}`);
      shown = true;
    },
    clear: () => {
      if (shown) io.stderr.write("\r\x1b[2K");
      shown = false;
    },
  };
}
