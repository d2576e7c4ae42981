import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { CudaCodegenError, generateCuda, type CudaOutput } from "../../../codegen/cuda/index.js";
import { makeDiagnostic, type Diagnostic } from "../../../diagnostics/diagnostic.js";
import { Diag } from "../../../diagnostics/messages.js";
import type { CheckResult } from "../../../driver.js";
import { describeError } from "../../../io/ndarray.js";
import { packageRoot } from "../../../package-root.js";
import type { CheckedConnection } from "../../../sema/checked.js";
import type { CliIO } from "../../io.js";
import { version } from "../../version.js";
import { findNvcc, nvccArguments, nvccMissing } from "../nvcc.js";


export interface CachedLibrary {
  /** The folder with manifest.json and lib<symbol>.so. */
  readonly dir: string;
  readonly symbol: string;
  /** True when an up-to-date build was found and nothing was compiled. */
  readonly reused: boolean;
  readonly buildSeconds?: number;
}

export interface BuildOptions {
  readonly cacheDir: string;
  readonly arch: string;
}

/**
 * The compiled library of `conn`, from the cache when an identical build is
 * there: the key hashes every generated file, the runtime headers the source
 * includes, the architecture and the compiler version, so any change to the
 * `.mhc` file, the compiler or the headers rebuilds. A build happens in a
 * private temporary folder that is renamed into place only when nvcc
 * succeeded, so the cache never holds a half-written library.
 */
export function cachedLibrary(checked: CheckResult, conn: CheckedConnection, io: CliIO, options: BuildOptions): CachedLibrary | Diagnostic[] {
  const entry = cacheEntry(checked, conn, options);
  if (Array.isArray(entry)) return entry;
  const { output, dir, symbol } = entry;
  const runtimeDir = runtimeHeaders();
  const library = `lib${symbol}.so`;
  if (existsSync(join(dir, library)) && existsSync(join(dir, "manifest.json"))) return { dir, symbol, reused: true };

  const nvcc = findNvcc(io);
  if (!nvcc) {
    return [nvccMissing("install the CUDA toolkit, or build the library elsewhere (`mhc compile FILE --target cuda --out DIR --build`) and pass `--lib-dir DIR/<connection>`")];
  }
  const temp = join(options.cacheDir, `.build-${symbol}-${process.pid}-${Date.now().toString(36)}`);
  try {
    mkdirSync(temp, { recursive: true });
    for (const [name, text] of output.files) writeFileSync(join(temp, name), text);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    return [makeDiagnostic(Diag.CannotWrite, undefined, [temp, describeError(error)])];
  }
  const args = nvccArguments(join(temp, `${symbol}.cu`), join(temp, library), options.arch, runtimeDir);
  io.stderr.write(`building ${library} for ${options.arch} with nvcc (about a minute) ...\n`);
  const started = performance.now();
  const run = spawnSync(nvcc, args, { encoding: "utf8" });
  const buildSeconds = (performance.now() - started) / 1000;
  if (run.status !== 0) {
    rmSync(temp, { recursive: true, force: true });
    const log = `${run.error ? `${run.error.message}\n` : ""}${run.stdout ?? ""}${run.stderr ?? ""}`.trim().split("\n").slice(-30);
    return [makeDiagnostic(Diag.NvccFailed, undefined, [conn.name], { notes: [`command: ${[nvcc, ...args].join(" ")}`, ...log] })];
  }
  try {
    renameSync(temp, dir);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    // Another process finished the same build first: its result is as good as ours.
    if (existsSync(join(dir, library))) return { dir, symbol, reused: true };
    return [makeDiagnostic(Diag.CannotWrite, undefined, [dir, describeError(error)])];
  }
  return { dir, symbol, reused: false, buildSeconds };
}

/** The generated files of `conn` and the cache folder an identical build lives in. */
export function cacheEntry(checked: CheckResult, conn: CheckedConnection, options: BuildOptions): { output: CudaOutput; dir: string; symbol: string; key: string } | Diagnostic[] {
  let output: CudaOutput;
  try {
    output = generateCuda(checked, conn, { compilerVersion: version() });
  } catch (error) {
    if (error instanceof CudaCodegenError) return [makeDiagnostic(Diag.TargetUnsupported, undefined, ["CUDA", conn.name, error.message])];
    throw error;
  }
  const symbol = output.plan.symbol;
  const key = buildKey(output.files, options.arch, runtimeHeaders());
  return { output, dir: join(options.cacheDir, `${symbol}-${key}`), symbol, key };
}

/** 16 hex digits of a hash of everything a build depends on. */
export function buildKey(files: ReadonlyMap<string, string>, arch: string, runtimeDir: string): string {
  const hash = createHash("sha256");
  hash.update(`mhc-lang ${version()}\0arch ${arch}\0`);
  for (const [name, text] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${name}\0${text}\0`);
  for (const file of listFiles(runtimeDir)) hash.update(`${relative(runtimeDir, file)}\0`).update(readFileSync(file));
  return hash.digest("hex").slice(0, 16);
}

function runtimeHeaders(): string {
  return join(packageRoot(), "runtime", "cuda");
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}
