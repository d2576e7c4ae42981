import type { Diagnostic } from "../../../diagnostics/diagnostic.js";
import type { CheckResult } from "../../../driver.js";
import { GpuSession, type DeviceInfo } from "../../../../runtime/native/device.js";
import { ExitCode, type CliIO } from "../../io.js";
import { checkOrReport, failWith } from "../common.js";
import { positiveInteger } from "./options.js";
import { Progress, describeDevice, nativeDiagnostic } from "./report.js";
import { planTargets, type LibraryFlags, type Target } from "./targets.js";

/** The options `mhc verify` and `mhc bench` share for finding or building a library. */
export interface LibraryOptions {
  readonly connection?: string;
  readonly n?: unknown;
  readonly libDir?: string;
  readonly cache?: string;
  readonly arch?: string;
}

/** Everything `mhc verify` and `mhc bench` both take. */
export interface GpuCommandOptions extends LibraryOptions {
  readonly shapes?: unknown;
  readonly dtype?: unknown;
  readonly device?: unknown;
  readonly json?: boolean;
  readonly format?: string;
  readonly color?: boolean;
}

export function libraryFlags(options: LibraryOptions): LibraryFlags {
  const n = options.n === undefined ? undefined : positiveInteger("n", options.n, 4, 16);
  return {
    ...(options.connection !== undefined ? { connection: String(options.connection) } : {}),
    ...(n !== undefined ? { n } : {}),
    ...(options.libDir !== undefined ? { libDir: String(options.libDir) } : {}),
    ...(options.cache !== undefined ? { cache: String(options.cache) } : {}),
    ...(options.arch !== undefined ? { arch: String(options.arch) } : {}),
  };
}

export interface GpuRun<R> {
  readonly file: string;
  readonly options: { readonly json?: boolean; readonly format?: string; readonly color?: boolean };
  readonly io: CliIO;
  /** "verify" or "benchmark", for "could not ... FILE". */
  readonly verb: string;
  readonly flags: LibraryFlags;
  readonly device: number;
  /** One connection's work; a list of diagnostics stops the run. */
  readonly each: (checked: CheckResult, target: Target, session: GpuSession, progress: Progress) => R | { readonly diagnostics: Diagnostic[] };
  /** Prints one connection's result (not with --json). */
  readonly print: (result: R) => void;
  /** After every connection ran and the device is closed. */
  readonly finish: (results: readonly R[], device: DeviceInfo, fail: (d: Diagnostic[]) => ExitCode) => ExitCode;
}

/**
 * The frame of `mhc verify` and `mhc bench`: check the file, plan its connections,
 * open the GPU (before anything is built, so a machine without one gets the coded
 * error and nothing written), run each connection, and close the device on every
 * path, a failure to close reported unless an earlier problem was.
 */
export function runOnGpu<R>(run: GpuRun<R>): ExitCode {
  const { file, options, io } = run;
  const fail = (d: Diagnostic[]) => failWith(d, file, io, { ...options, verb: run.verb } as { format?: string; color?: boolean });
  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  const planned = planTargets(checked, file, io, run.flags);
  if ("diagnostics" in planned) return fail(planned.diagnostics);

  let session: GpuSession;
  try {
    session = GpuSession.open({ env: io.env, device: run.device });
  } catch (error) {
    return fail([nativeDiagnostic(error)]);
  }
  const progress = new Progress(io.stderr);
  const results: R[] = [];
  let problems: Diagnostic[] = [];
  try {
    if (!options.json) io.stdout.write(`device: ${describeDevice(session.device)}\n`);
    for (const target of planned.targets) {
      const outcome = run.each(checked, target, session, progress);
      progress.clear();
      if (typeof outcome === "object" && outcome !== null && "diagnostics" in outcome) {
        problems = outcome.diagnostics;
        break;
      }
      results.push(outcome as R);
      if (!options.json) run.print(outcome as R);
    }
  } finally {
    progress.clear();
    try {
      session.close();
    } catch (error) {
      if (problems.length === 0) problems = [nativeDiagnostic(error)];
    }
  }
  if (problems.length > 0) return fail(problems);
  return run.finish(results, session.device, fail);
}
