import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import type { CheckResult } from "../../driver.js";
import { join } from "node:path";
import { GpuSession, type DeviceInfo } from "../../../runtime/native/device.js";
import type { ResidualDType } from "../../../runtime/native/host-data.js";
import { KernelLibrary } from "../../../runtime/native/library.js";
import { readManifest } from "../../../runtime/native/manifest.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { forwardEntries, runForward } from "./native/forward-run.js";
import { libraryFlags, runOnGpu, type GpuCommandOptions } from "./native/gpu-run.js";
import { inputSpecs, randomInputs } from "./native/inputs.js";
import { dtypeLabel, nonNegativeInteger, parseDtypes, parseShapes, type Shape } from "./native/options.js";
import { SublayerReference } from "./native/reference.js";
import { Progress, nativeDiagnostic, sci } from "./native/report.js";
import { libraryFor, type LibraryFlags, type Target } from "./native/targets.js";
import { checkOutput, describeRule, type OutputCheck } from "./native/tolerance.js";

export interface VerifyOptions extends GpuCommandOptions {
  readonly seed?: unknown;
}

export const VERIFY_USAGE = "usage: mhc verify FILE [--connection NAME] [--n N] [--shapes TxC,...] [--dtype bf16|fp32] [--seed S] [--device D] [--lib-dir DIR] [--json]";

/**
 * Shapes verified by default: T = 1, 7, 16, 1023 and C = 96, 100, 4096, 7168, so
 * tails, the split-K and the many-token paths all run, and the float64
 * reference (the IR interpreter) stays within seconds.
 */
export const VERIFY_DEFAULT_SHAPES = "1x7168,7x100,16x4096,1023x96,256x4096";

interface CaseResult {
  readonly connection: string;
  readonly T: number;
  readonly C: number;
  readonly dtype: ResidualDType;
  readonly checks: readonly OutputCheck[];
}

interface Settings {
  readonly shapes: readonly Shape[];
  readonly dtypes: readonly ResidualDType[];
  readonly seed: number;
  readonly device: number;
  readonly flags: LibraryFlags;
}

/**
 * `mhc verify FILE`: builds (or reuses) each connection's CUDA library, runs
 * `pre` and `post` on seeded random inputs for every shape and residual dtype,
 * and compares every output (`u`, `y`, `h_pre`, `h_post`, `h_res`) with the IR's
 * float64 interpreter under the tolerances of the GPU verification script.
 * Prints max abs / rel errors per output with PASS/FAIL; exit 1 on any failure.
 * The GPU is probed before anything is built, so a machine without one gets
 * the coded error and nothing written.
 */
export function verifyCommand(file: string | undefined, options: VerifyOptions, io: CliIO): ExitCode {
  if (!file) throw new UsageError(VERIFY_USAGE);
  const settings = parseSettings(options);
  type Done = Extract<TargetOutcome, { results: CaseResult[] }>;
  return runOnGpu<Done>({
    file,
    options,
    io,
    verb: "verify",
    flags: settings.flags,
    device: settings.device,
    each: (checked, target, session, progress) => verifyTarget(checked, target, session, settings, io, progress),
    print: ({ library, results }) => io.stdout.write(formatTable(library.connection, library.library, library.reused, library.buildSeconds, results)),
    finish: (done, device, fail) => {
      const libraries = done.map((d) => d.library);
      const results = done.flatMap((d) => d.results);
      if (options.json) io.stdout.write(JSON.stringify(jsonRecord(file, device, settings, libraries, results), null, 1) + "\n");
      const failures: Diagnostic[] = [];
      for (const lib of libraries) {
        const checks = results.filter((r) => r.connection === lib.connection).flatMap((r) => r.checks);
        const bad = checks.filter((c) => !c.ok).length;
        if (bad > 0) failures.push(makeDiagnostic(Diag.VerificationFailed, undefined, [bad, checks.length, lib.connection], { notes: [`tolerances: fp32 outputs ${describeRule("fp32")}; bf16 u, y ${describeRule("bf16")}`] }));
        else if (!options.json) io.stdout.write(`PASS: ${checks.length} of ${checks.length} checks of \`${lib.connection}\` within tolerance\n`);
      }
      return failures.length > 0 ? fail(failures) : ExitCode.Ok;
    },
  });
}

function parseSettings(options: VerifyOptions): Settings {
  return {
    shapes: parseShapes(options.shapes ?? VERIFY_DEFAULT_SHAPES),
    dtypes: parseDtypes(options.dtype, ["f32", "bf16"]),
    seed: nonNegativeInteger("seed", options.seed, 0),
    device: nonNegativeInteger("device", options.device, 0, 1023),
    flags: libraryFlags(options),
  };
}

type TargetOutcome =
  | { library: { connection: string; library: string; reused: boolean; buildSeconds?: number }; results: CaseResult[] }
  | { diagnostics: Diagnostic[] };

function verifyTarget(checked: CheckResult, target: Target, session: GpuSession, settings: Settings, io: CliIO, progress: Progress): TargetOutcome {
  const built = libraryFor(checked, target, io, settings.flags);
  if (Array.isArray(built)) return { diagnostics: built };
  let library: KernelLibrary;
  try {
    const manifest = readManifest(join(built.dir, "manifest.json"));
    library = KernelLibrary.open(built.dir, manifest, (e) => session.runtime.describe(e));
    forwardEntries(library);
  } catch (error) {
    return { diagnostics: [nativeDiagnostic(error)] };
  }
  const reference = new SublayerReference(checked, target.conn);
  const results: CaseResult[] = [];
  const total = settings.shapes.length * settings.dtypes.length;
  try {
    for (const { T, C } of settings.shapes) {
      for (const dtype of settings.dtypes) {
        const label = `[${results.length + 1}/${total}] ${target.conn.name} T=${T} C=${C} ${dtypeLabel(dtype)}`;
        progress.update(`${label}: inputs and device run ...`);
        const inputs = randomInputs(library.manifest, inputSpecs(library.manifest, forwardEntries(library).map((e) => e.spec), T, C, dtype), C, settings.seed);
        const device = runForward(session, library, { T, C, dtype }, inputs);
        progress.update(`${label}: float64 reference ...`);
        const wanted = [...device.outputs.keys()].map((name) => reference.outputFor(name)).filter((o): o is string => o !== undefined);
        const expected = reference.run(inputs, wanted);
        const checks: OutputCheck[] = [];
        for (const [name, out] of device.outputs) {
          const refName = reference.outputFor(name);
          if (refName === undefined) continue;
          checks.push(checkOutput(name, out.values, (expected[refName] as { data: Float64Array }).data, out.elementType === "bf16" ? "bf16" : "fp32"));
        }
        results.push({ connection: target.conn.name, T, C, dtype, checks });
      }
    }
  } catch (error) {
    return { diagnostics: [nativeDiagnostic(error)] };
  } finally {
    library.close();
  }
  return { library: { connection: target.conn.name, library: join(built.dir, library.manifest.library), reused: built.reused, ...(built.buildSeconds !== undefined ? { buildSeconds: built.buildSeconds } : {}) }, results };
}

function formatTable(connection: string, library: string, reused: boolean, buildSeconds: number | undefined, results: readonly CaseResult[]): string {
  const lines = [`library: ${library} (${reused ? "up to date, reused" : `built in ${(buildSeconds ?? 0).toFixed(1)} s`})`, `tolerances: fp32 outputs ${describeRule("fp32")}; bf16 u, y ${describeRule("bf16")}`];
  const rows = [["connection", "T", "C", "dtype", "output", "max abs", "max rel", "bf16 over", "result"]];
  for (const r of results) {
    for (const c of r.checks) {
      rows.push([connection, String(r.T), String(r.C), dtypeLabel(r.dtype), c.output, sci(c.maxAbs), sci(c.maxRel), c.rule === "bf16" ? String(c.violations) : "-", c.ok ? "PASS" : c.nonFinite > 0 ? `FAIL (${c.nonFinite} non-finite)` : "FAIL"]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  lines.push(...rows.map((row) => row.map((cell, i) => (i >= 1 && i <= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd()));
  return lines.join("\n") + "\n";
}

function jsonRecord(file: string, device: DeviceInfo, settings: Settings, libraries: readonly object[], results: readonly CaseResult[]): object {
  return {
    format: "mhc-verify",
    formatVersion: 1,
    compiler: `mhc-lang ${version()}`,
    date: new Date().toISOString(),
    file,
    device,
    seed: settings.seed,
    tolerances: { fp32: describeRule("fp32"), bf16: describeRule("bf16") },
    libraries,
    cases: results.map((r) => ({ connection: r.connection, T: r.T, C: r.C, dtype: dtypeLabel(r.dtype), ok: r.checks.every((c) => c.ok), outputs: r.checks })),
    failures: results.flatMap((r) => r.checks).filter((c) => !c.ok).length,
  };
}
