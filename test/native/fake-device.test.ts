import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { generateCuda } from "../../compiler/codegen/cuda/index.js";
import { checkFiles } from "../../compiler/driver.js";
import { koffi } from "../../runtime/native/ffi.js";
import { memoryIO } from "../helpers/memory-io.js";

/*
 * The whole path of `mhc verify` and `mhc bench` through koffi, on a host
 * double of the CUDA libraries (fixtures/fake-cuda.c) and of the compiled
 * library of examples/deepseek-v4-flash.mhc (fixtures/fake-deepseek.c, design.md
 * section 1 written in C), with the manifest the compiler generates. It needs a
 * C compiler (CI has one, as nvcc needs it) and runs where there is no GPU.
 */
const cc = ["cc", "gcc"].find((c) => spawnSync(c, ["--version"]).status === 0);
const example = resolve("examples/deepseek-v4-flash.mhc");
let dir = "";
let env: Record<string, string> = {};

beforeAll(() => {
  if (!cc) return;
  dir = mkdtempSync(join(tmpdir(), "mhc-fake-device-"));
  const fixtures = resolve("test/native/fixtures");
  const build = (source: string, out: string) => {
    const r = spawnSync(cc, ["-shared", "-fPIC", "-O2", "-o", join(dir, out), join(fixtures, source), "-lm"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cc} ${source}: ${r.stderr}`);
  };
  build("fake-cuda.c", "libcuda.so.1");
  copyFileSync(join(dir, "libcuda.so.1"), join(dir, "libcudart.so"));
  mkdirSync(join(dir, "lib"));
  build("fake-deepseek.c", join("lib", "libdeepseek_v4.so"));
  const checked = checkFiles([example], { cwd: process.cwd() });
  // lib/ has the compiler's manifest with its backward section; forward-only/ the same library described without it.
  const manifest = JSON.parse(generateCuda(checked, "deepseek_v4").files.get("manifest.json") as string) as Record<string, unknown>;
  expect(manifest["backward"]).toBeDefined();
  writeFileSync(join(dir, "lib", "manifest.json"), JSON.stringify(manifest));
  mkdirSync(join(dir, "forward-only"));
  copyFileSync(join(dir, "lib", "libdeepseek_v4.so"), join(dir, "forward-only", "libdeepseek_v4.so"));
  delete manifest["backward"];
  writeFileSync(join(dir, "forward-only", "manifest.json"), JSON.stringify(manifest));
  env = { MHC_LIBCUDA: join(dir, "libcuda.so.1"), MHC_CUDART: join(dir, "libcudart.so") };
});

afterEach(() => {
  delete process.env["FAKE_MHC_FAULT"];
});

/** Buffers, streams and events the double holds now (0: everything was freed). */
function live(): number {
  const lib = koffi().load(env["MHC_CUDART"] as string);
  return Number(lib.func("long fake_live(void)")());
}

function run(args: string[]) {
  const io = memoryIO(dir);
  Object.assign(io.env, env);
  return { code: runCli(args, io), io };
}

interface VerifyRecord {
  readonly format: string;
  readonly device: { readonly name: string };
  readonly failures: number;
  readonly cases: readonly { readonly T: number; readonly dtype: string; readonly ok: boolean; readonly outputs: readonly { readonly output: string; readonly ok: boolean; readonly maxRel: number; readonly rule: string }[] }[];
}

describe.runIf(cc !== undefined)("mhc verify and mhc bench on a host double of the GPU", () => {
  it("verifies every output of pre and post against the interpreter, and frees everything", () => {
    const { code, io } = run(["verify", example, "--lib-dir", "lib", "--shapes", "7x100,33x96", "--json"]);
    expect(code, io.err()).toBe(0);
    const record = JSON.parse(io.out()) as VerifyRecord;
    expect(record.format).toBe("mhc-verify");
    expect(record.device.name).toBe("Host double of a GPU");
    expect(record.failures).toBe(0);
    expect(record.cases.map((c) => `${c.T}:${c.dtype}:${c.ok}`)).toEqual(["7:fp32:true", "7:bf16:true", "33:fp32:true", "33:bf16:true"]);
    expect(record.cases[1]?.outputs.map((o) => `${o.output}:${o.rule}`)).toEqual(["h_pre:fp32", "h_post:fp32", "h_res:fp32", "u:bf16", "y:bf16"]);
    for (const c of record.cases) for (const o of c.outputs.filter((x) => x.rule === "fp32")) expect(o.maxRel).toBeLessThan(1e-6);
    expect(live()).toBe(0);
  });

  it("prints a table with PASS per output for people", () => {
    const { code, io } = run(["verify", example, "--lib-dir", "lib", "--shapes", "7x100", "--dtype", "bf16"]);
    expect(code).toBe(0);
    expect(io.out()).toMatch(/^deepseek_v4\s+7\s+100\s+bf16\s+h_res\s+\S+\s+\S+\s+-\s+PASS$/m);
    expect(io.out()).toMatch(/^PASS: 5 of 5 checks of `deepseek_v4` within tolerance$/m);
  });

  it("fails a wrong kernel (H_res transposed) with MHC6040 and exit 1", () => {
    process.env["FAKE_MHC_FAULT"] = "res";
    const { code, io } = run(["verify", example, "--lib-dir", "lib", "--shapes", "7x100", "--dtype", "fp32", "--format", "json"]);
    expect(code).toBe(1);
    expect(io.out()).toMatch(/h_res\s+\S+\s+\S+\s+-\s+FAIL/);
    const diagnostics = JSON.parse(io.out().slice(io.out().indexOf("["))) as { code: string; message: string }[];
    expect(diagnostics.map((d) => d.code)).toEqual(["MHC6040"]);
    expect(live()).toBe(0);
  });

  it("turns MHC_ERR_CUDA into MHC6037 with CUDA's own error, and frees everything", () => {
    process.env["FAKE_MHC_FAULT"] = "cuda";
    const { code, io } = run(["verify", example, "--lib-dir", "lib", "--shapes", "7x100", "--format", "json"]);
    expect(code).toBe(1);
    const diagnostics = JSON.parse(io.out().slice(io.out().indexOf("["))) as { code: string; message: string }[];
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([["MHC6037", "`mhc_deepseek_v4_pre` returned MHC_ERR_CUDA: a CUDA call failed: cudaErrorIllegalAddress: an illegal memory access was encountered"]]);
    expect(live()).toBe(0);
  });

  it("benchmarks the forward with the floors of the Python benchmark, as a JSON record", () => {
    const { code, io } = run(["bench", example, "--lib-dir", "forward-only", "--shapes", "4x96", "--iters", "3", "--warmup", "1", "--json"]);
    expect(code, io.err()).toBe(0);
    const record = JSON.parse(io.out()) as { format: string; connections: { symbol: string; backward: string; shapes: { T: number; C: number; n: number; inputSets: number; bytes: { threePass: number; twoPass: number }; timings: Record<string, { samples: number }> }[]; launch: { ffiPostNoWorkUs: number } }[] };
    expect(record.format).toBe("mhc-bench");
    const shape = record.connections[0]!.shapes[0]!;
    expect([shape.T, shape.C, shape.n]).toEqual([4, 96, 4]);
    // bf16: T C e (4n + 2) + phi = 4 * 96 * 2 * 18 + 4 * 96 * 24 * 4
    expect(shape.bytes).toMatchObject({ threePass: 13824 + 36864, twoPass: 4 * 96 * 2 * 14 + 36864 });
    expect(Object.keys(shape.timings)).toEqual(["pre", "post", "forward", "forwardBackToBack"]);
    expect(shape.timings["forward"]!.samples).toBe(3);
    expect(shape.inputSets).toBe(64);
    expect(record.connections[0]!.backward).toBe("not in the manifest");
    expect(shape).not.toHaveProperty("backward");
    expect(record.connections[0]!.launch.ffiPostNoWorkUs).toBeGreaterThan(0);
    expect(live()).toBe(0);
  });

  it("times the backward from the manifest's backward section, after pre and save_stats, with its byte floors", () => {
    const { code, io } = run(["bench", example, "--lib-dir", "lib", "--shapes", "4x96,3x64", "--iters", "3", "--warmup", "1", "--json"]);
    expect(code, io.err()).toBe(0);
    interface Backward {
      inputSets: number;
      workspaceBytes: number;
      timings: Record<string, { samples: number; median: number }>;
      bytes: { fused: number; entryPoints: number; postBackward: number; preBackward: number; phi: number };
      floorFusedMs: number;
      floorEntryPointsMs: number;
      achievedBytesPerSecond: number;
    }
    const record = JSON.parse(io.out()) as { connections: { backward: string; shapes: { T: number; timings: Record<string, unknown>; backward: Backward }[] }[] };
    const conn = record.connections[0]!;
    expect(conn.backward).toBe("timed: save_stats, post_backward, pre_backward, backward");
    const [first, second] = conn.shapes as [{ T: number; timings: Record<string, unknown>; backward: Backward }, { T: number; backward: Backward }];
    expect(Object.keys(first.timings)).toEqual(["pre", "post", "forward", "forwardBackToBack"]);
    const b = first.backward;
    expect(Object.keys(b.timings)).toEqual(["save_stats", "post_backward", "pre_backward", "backward"]);
    for (const t of Object.values(b.timings)) expect(t.samples).toBe(3);
    // T C e = 4 * 96 * 2 = 768 bytes a stream; phi = 4 * 96 * 24 * 4, read once and its gradient written once.
    expect(b.bytes).toEqual({ fused: 768 * 24 + 2 * 36864, entryPoints: 768 * 28 + 2 * 36864, postBackward: 768 * 10, preBackward: 768 * 18 + 2 * 36864, phi: 36864 });
    // The double's backward workspace: T (n + n^2) floats, rounded up to 256 bytes.
    expect(b.workspaceBytes).toBe(512);
    expect(second.backward.workspaceBytes).toBe(256);
    expect(b.inputSets).toBe(64);
    expect(b.floorEntryPointsMs / b.floorFusedMs).toBeCloseTo(b.bytes.entryPoints / b.bytes.fused, 12);
    expect(b.achievedBytesPerSecond).toBeCloseTo(b.bytes.entryPoints / (b.timings["backward"]!.median * 1e-3), 0);
    expect(live()).toBe(0);
  });

  it("prints the backward's times and floors for people", () => {
    const { code, io } = run(["bench", example, "--lib-dir", "lib", "--shapes", "4x96", "--iters", "2", "--warmup", "0"]);
    expect(code, io.err()).toBe(0);
    expect(io.out()).toMatch(/^ {2}backward: post_backward \d+\.\d{3} ms, pre_backward \d+\.\d{3} ms, post_backward\+pre_backward \d+\.\d{3} ms \(min \d+\.\d{3} ms; 64 input set\(s\)\); save_stats \d+\.\d{3} ms$/m);
    expect(io.out()).toMatch(/^ {4}floor of the entry points \d+\.\d{3} ms \(0\.1 MB\): \d+\.\d{2}x/m);
    expect(io.out()).toMatch(/^backward: timed: save_stats, post_backward, pre_backward, backward$/m);
  });
});
