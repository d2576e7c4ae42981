import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { CudaRuntime } from "../../runtime/native/cudart.js";
import { NativeError } from "../../runtime/native/errors.js";
import { koffi } from "../../runtime/native/ffi.js";
import { driverCandidates, runtimeCandidates } from "../../runtime/native/locate.js";
import { memoryIO } from "../helpers/memory-io.js";

/*
 * CI has nvcc but no GPU and no driver: `mhc verify` and `mhc bench` must stop
 * at the probe with a coded error, exit 1, and write nothing (no cache, no
 * half-built library). MHC_LIBCUDA pointing nowhere forces that path on any
 * machine; without it the test also runs where no driver is installed.
 */
const example = resolve("examples/deepseek-v4-flash.mhc");
const nowhere = "/nonexistent/mhc-test/libcuda.so.1";

function run(args: string[], env: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "mhc-no-gpu-"));
  const io = memoryIO(cwd);
  Object.assign(io.env, env);
  const code = runCli(args, io);
  return { code, io, cwd };
}

function driverLoads(): boolean {
  for (const path of driverCandidates({})) {
    try {
      koffi().load(path).unload();
      return true;
    } catch {
      // try the next
    }
  }
  return false;
}

describe("mhc verify and mhc bench without a GPU driver", () => {
  it.each([
    ["verify", ["verify", example]],
    ["bench", ["bench", example, "--tokens", "16"]],
  ])("mhc %s gives MHC6030, exits 1 and writes nothing", (_, args) => {
    const { code, io, cwd } = run([...args, "--format", "json"], { MHC_LIBCUDA: nowhere });
    expect(code).toBe(1);
    const diagnostics = JSON.parse(io.out()) as { code: string; notes: string[] }[];
    expect(diagnostics.map((d) => d.code)).toEqual(["MHC6030"]);
    expect(diagnostics[0]?.notes[0]).toContain(nowhere);
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(join(cwd, ".mhc-cache"))).toBe(false);
  });

  it("renders the error for people, with the help line", () => {
    const { code, io } = run(["verify", example], { MHC_LIBCUDA: nowhere });
    expect(code).toBe(1);
    expect(io.err()).toMatch(/^error\[MHC6030\]: no CUDA driver: cannot load libcuda$/m);
    expect(io.err()).toMatch(/= help: run on a machine with an NVIDIA GPU/);
  });

  it.runIf(!driverLoads())("gives MHC6030 on this machine, which has no driver", () => {
    const { code, io, cwd } = run(["verify", example, "--format", "json"], {});
    expect(code).toBe(1);
    expect((JSON.parse(io.out()) as { code: string }[]).map((d) => d.code)).toEqual(["MHC6030"]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("does the same through the bundled command line (dist/mhc.cjs), which loads koffi at run time", () => {
    const bundle = resolve("dist/mhc.cjs");
    if (!existsSync(bundle)) throw new Error("dist/mhc.cjs is missing: run `npm run build` (test/global-setup.ts does it)");
    const cwd = mkdtempSync(join(tmpdir(), "mhc-no-gpu-cli-"));
    const result = spawnSync(process.execPath, [bundle, "verify", example], { cwd, encoding: "utf8", env: { ...process.env, MHC_LIBCUDA: nowhere, NO_COLOR: "1" } });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^error\[MHC6030\]: no CUDA driver: cannot load libcuda$/m);
    expect(result.stdout).toBe("");
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("checks usage before touching the GPU", () => {
    expect(run(["verify", example, "--shapes", "7by100"], { MHC_LIBCUDA: nowhere }).code).toBe(2);
    expect(run(["bench", example, "--dtype", "fp16"], { MHC_LIBCUDA: nowhere }).code).toBe(2);
    const unknown = run(["verify", example, "--connection", "deepseek_v5", "--format", "json"], { MHC_LIBCUDA: nowhere });
    expect(unknown.code).toBe(1);
    expect((JSON.parse(unknown.io.out()) as { code: string }[]).map((d) => d.code)).toEqual(["MHC2021"]);
  });
});

describe("loading the CUDA runtime library", () => {
  it("gives MHC6031 when libcudart is not where MHC_CUDART says", () => {
    let code: string | undefined;
    try {
      CudaRuntime.open({ MHC_CUDART: "/nonexistent/libcudart.so" });
    } catch (error) {
      code = error instanceof NativeError ? error.def.code : String(error);
    }
    expect(code).toBe("MHC6031");
  });

  it("looks for CUDA 13 and 12 through the loader, then under CUDA_HOME", () => {
    const candidates = runtimeCandidates({ CUDA_HOME: "/opt/cuda" });
    expect(candidates.slice(0, 3)).toEqual(["libcudart.so.13", "libcudart.so.12", "libcudart.so"]);
    expect(candidates).toContain("/opt/cuda/lib64/libcudart.so.13");
    expect(runtimeCandidates({ MHC_CUDART: "/x/libcudart.so" })).toEqual(["/x/libcudart.so"]);
  });

  const runtime = (() => {
    try {
      return CudaRuntime.open({});
    } catch {
      return undefined;
    }
  })();

  it.runIf(runtime !== undefined && !driverLoads())("reports no usable device (MHC6032) when the runtime loads but no driver does", () => {
    let error: unknown;
    try {
      runtime?.deviceCount();
    } catch (e) {
      error = e;
    }
    expect(error instanceof NativeError ? error.def.code : error).toBe("MHC6032");
    expect((error as NativeError).message).toMatch(/^no usable CUDA device: cudaError\w+: /);
  });
});
