import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** nvcc on PATH or in the usual CUDA 13 places; undefined when absent. */
export function findNvcc(): string | undefined {
  const onPath = spawnSync("sh", ["-c", "command -v nvcc"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return onPath;
  return ["/usr/local/cuda-13.0/bin/nvcc", "/usr/local/cuda/bin/nvcc"].find((p) => existsSync(p));
}

/** CI has nvcc (no GPU): there the compile tests must run, never skip. */
export function requireNvccInCi(nvcc: string | undefined): void {
  if (!nvcc && process.env["CI"] === "true") throw new Error("nvcc is required in CI (CI=true) for the CUDA compile tests, and was not found");
}

export interface CompileResult {
  readonly file: string;
  readonly code: number | null;
  readonly log: string;
  readonly command: string;
}

/**
 * Compiles one generated `.cu` for sm_90a. `object` runs the whole toolchain (ptxas
 * included: register and shared-memory limits are checked); `ptx` stops after NVVM,
 * which checks the C++ and the device code in about a quarter of the time, so most
 * variants use it and one per suite goes all the way.
 */
export function compileCuda(nvcc: string, root: string, dir: string, file: string, options: { mode: "object" | "ptx"; defines?: readonly string[] }): Promise<CompileResult> {
  const output = options.mode === "ptx" ? ["--ptx", "-o", join(dir, `${file}.ptx`)] : ["-c", "-Xptxas", "-O1", "-o", join(dir, `${file}.o`)];
  const args = [
    "-arch=sm_90a",
    "-std=c++17",
    ...(options.defines ?? []).map((d) => `-D${d}`),
    `-I${join(root, "runtime", "cuda")}`,
    `-I${join(root, "runtime", "cuda", "include")}`,
    `-I${dir}`,
    join(dir, file),
    ...output,
  ];
  return new Promise((resolve) => {
    const child = spawn(nvcc, args, { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d: Buffer) => (log += d.toString()));
    child.stderr.on("data", (d: Buffer) => (log += d.toString()));
    child.on("close", (code) => resolve({ file, code, log, command: [nvcc, ...args].join(" ") }));
  });
}
