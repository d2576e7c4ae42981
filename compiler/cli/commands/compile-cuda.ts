import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { CudaCodegenError, generateCuda } from "../../codegen/cuda/index.js";
import { kernelSummary } from "../../codegen/cuda/summary.js";
import { selectConnections } from "../../codegen/tfjs/index.js";
import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import type { CheckResult } from "../../driver.js";
import { describeError, writeFileAtomic } from "../../io/ndarray.js";
import { packageRoot } from "../../package-root.js";
import { ExitCode, type CliIO } from "../io.js";
import { version } from "../version.js";
import { failWith } from "./common.js";
import { findNvcc, nvccArguments, nvccMissing } from "./nvcc.js";


/**
 * `mhc compile FILE --target cuda --out DIR [--build] [--arch sm_90a]`: per
 * connection of FILE (checked with its defaults), `DIR/<name>/` holds
 * `<name>.cu`, `<name>.h` and `manifest.json`; `--build` runs nvcc into
 * `DIR/<name>/lib<name>.so` against the runtime headers of this package.
 */
export function writeCuda(checked: CheckResult, file: string, out: string, io: CliIO, options: { build?: boolean; arch?: string; format?: string; color?: boolean }): ExitCode {
  const fail = (d: Diagnostic[]) => failWith(d, file, io, { ...options, verb: "compile" } as { format?: string; color?: boolean });
  const { selected, skipped } = selectConnections(checked);
  const dir = resolve(io.cwd, out);
  const problems: Diagnostic[] = [];
  const written: string[] = [];
  const built: string[] = [];
  const summaries: string[] = [];
  const nvcc = options.build ? findNvcc(io) : undefined;
  if (options.build && !nvcc) {
    return fail([nvccMissing("install the CUDA toolkit, or run without `--build` and build the sources yourself")]);
  }
  for (const conn of selected) {
    let output;
    try {
      output = generateCuda(checked, conn, { compilerVersion: version() });
    } catch (error) {
      if (error instanceof CudaCodegenError) {
        problems.push(makeDiagnostic(Diag.TargetUnsupported, undefined, ["CUDA", conn.name, error.message]));
        continue;
      }
      throw error;
    }
    summaries.push(...kernelSummary(output.plan));
    const target = join(dir, conn.name);
    try {
      mkdirSync(target, { recursive: true });
    } catch (error) {
      return fail([makeDiagnostic(Diag.CannotWrite, undefined, [relative(io.cwd, target) || target, describeError(error)])]);
    }
    for (const [name, text] of output.files) {
      const path = join(target, name);
      const result = writeFileAtomic(path, new TextEncoder().encode(text));
      if (!result.ok) return fail([makeDiagnostic(Diag.CannotWrite, undefined, [path, result.reason])]);
      written.push(relative(io.cwd, path) || path);
    }
    if (nvcc) {
      const source = join(target, `${output.plan.symbol}.cu`);
      const library = join(target, `lib${output.plan.symbol}.so`);
      const runtime = join(packageRoot(), "runtime", "cuda");
      const args = nvccArguments(source, library, options.arch ?? "sm_90a", runtime);
      io.stderr.write(`building ${relative(io.cwd, library) || library} ...\n`);
      const run = spawnSync(nvcc, args, { encoding: "utf8" });
      if (run.status !== 0) {
        const log = `${run.stdout ?? ""}${run.stderr ?? ""}`.trim().split("\n").slice(-30);
        problems.push(makeDiagnostic(Diag.NvccFailed, undefined, [conn.name], { notes: [`command: ${[nvcc, ...args].join(" ")}`, `source: ${source}`, ...log] }));
        continue;
      }
      built.push(relative(io.cwd, library) || library);
    }
  }
  for (const s of skipped) io.stderr.write(`note: no kernels for connection \`${s.name}\`: ${s.reason}\n`);
  if (problems.length > 0) return fail(problems);
  for (const line of summaries) io.stderr.write(`${line}\n`);
  io.stderr.write(`wrote ${written.length} files for ${selected.length} connection(s) under ${out} (target cuda, mhc-lang ${version()})${built.length ? `; built ${built.join(", ")}` : ""}\n`);
  return ExitCode.Ok;
}
