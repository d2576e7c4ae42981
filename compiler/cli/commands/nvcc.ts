import { existsSync } from "node:fs";
import { join } from "node:path";
import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import type { CliIO } from "../io.js";

/** Where nvcc is looked for when it is not on PATH. */
const NVCC_FALLBACKS = ["/usr/local/cuda/bin/nvcc", "/usr/local/cuda-13.0/bin/nvcc"];

/** nvcc on the command's PATH, else in the usual CUDA install places. */
export function findNvcc(io: CliIO): string | undefined {
  for (const dir of (io.env["PATH"] ?? "").split(":")) if (dir && existsSync(join(dir, "nvcc"))) return join(dir, "nvcc");
  return NVCC_FALLBACKS.find((p) => existsSync(p));
}

/** MHC5002 with where nvcc was looked for; `help` says what to do instead. */
export function nvccMissing(help: string): Diagnostic {
  return makeDiagnostic(Diag.NvccMissing, undefined, [], { notes: ["looked on PATH and in " + NVCC_FALLBACKS.join(", ")], help });
}

/** The nvcc command line that builds one generated source into `lib<name>.so`. */
export function nvccArguments(source: string, library: string, arch: string, runtimeDir: string): string[] {
  return [`-arch=${arch}`, "-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", `-I${runtimeDir}`, `-I${join(runtimeDir, "include")}`, source, "-o", library];
}
