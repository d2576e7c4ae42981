import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cacheEntry, cachedLibrary } from "../../compiler/cli/commands/native/library-cache.js";
import { nvccArguments } from "../../compiler/cli/commands/nvcc.js";
import { instantiateConnection } from "../../compiler/codegen/cuda/index.js";
import { checkFiles } from "../../compiler/driver.js";
import { memoryIO } from "../helpers/memory-io.js";

const checked = checkFiles(["examples/deepseek-v4-flash.mhc"], { cwd: process.cwd() });
const conn = checked.checked.connections.get("deepseek_v4")!;

describe("the library cache of mhc verify / mhc bench", () => {
  it("keys a build by what it is built from: same sources, same key; another arch or n, another key", () => {
    const cacheDir = "/cache";
    const a = cacheEntry(checked, conn, { cacheDir, arch: "sm_90a" });
    const b = cacheEntry(checked, conn, { cacheDir, arch: "sm_90a" });
    const c = cacheEntry(checked, conn, { cacheDir, arch: "sm_100a" });
    const d = cacheEntry(checked, instantiateConnection(checked, "deepseek_v4", { n: 8 }), { cacheDir, arch: "sm_90a" });
    if (Array.isArray(a) || Array.isArray(b) || Array.isArray(c) || Array.isArray(d)) throw new Error("unexpected diagnostics");
    expect(a.key).toMatch(/^[0-9a-f]{16}$/);
    expect(a.dir).toBe(join(cacheDir, `deepseek_v4-${a.key}`));
    expect(b.key).toBe(a.key);
    expect(c.key).not.toBe(a.key);
    expect(d.key).not.toBe(a.key);
  });

  it("reuses a finished build without looking for nvcc", () => {
    const cacheDir = mkdtempSync(join(tmpdir(), "mhc-cache-"));
    const entry = cacheEntry(checked, conn, { cacheDir, arch: "sm_90a" });
    if (Array.isArray(entry)) throw new Error("unexpected diagnostics");
    mkdirSync(entry.dir, { recursive: true });
    writeFileSync(join(entry.dir, "manifest.json"), entry.output.files.get("manifest.json") as string);
    copyFileSync(process.execPath, join(entry.dir, "libdeepseek_v4.so"));
    const io = memoryIO();
    Object.assign(io.env, { PATH: "" });
    expect(cachedLibrary(checked, conn, io, { cacheDir, arch: "sm_90a" })).toEqual({ dir: entry.dir, symbol: "deepseek_v4", reused: true });
    expect(io.err()).toBe("");
  });

  it("builds with the flags of mhc compile --build", () => {
    expect(nvccArguments("k.cu", "libk.so", "sm_90a", "/rt")).toEqual(["-arch=sm_90a", "-O3", "-std=c++17", "-shared", "-Xcompiler", "-fPIC", "-I/rt", "-I/rt/include", "k.cu", "-o", "libk.so"]);
  });

  it("reports a connection the CUDA target cannot compile (MHC5001) before building", () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-cache-"));
    writeFileSync(join(dir, "hc.mhc"), "connection plain_hc(n: int = 4) {\n  streams n\n  norm rms_stream(eps = 1e-6)\n  pre dynamic tanh unconstrained()\n  post dynamic tanh unconstrained()\n  res dynamic tanh unconstrained()\n}\n");
    const hc = checkFiles([join(dir, "hc.mhc")], { cwd: dir });
    const result = cacheEntry(hc, hc.checked.connections.get("plain_hc")!, { cacheDir: join(dir, "cache"), arch: "sm_90a" });
    expect(Array.isArray(result) ? result.map((d) => d.code) : result).toEqual(["MHC5001"]);
  });
});
