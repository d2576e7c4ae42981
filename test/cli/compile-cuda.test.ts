import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { memoryIO } from "../helpers/memory-io.js";

describe("mhc compile --target cuda", () => {
  it("writes the kernels, header and manifest of each connection", async () => {
    const out = mkdtempSync(join(tmpdir(), "mhc-cuda-"));
    const io = memoryIO();
    expect(await runCli(["compile", "examples/my-constraint.mhc", "--target", "cuda", "--out", out], io), io.err()).toBe(0);
    const source = readFileSync(join(out, "tempered", "tempered.cu"), "utf8");
    expect(source).toContain('extern "C"');
    expect(source).toMatch(/#line \d+ "/);
    const manifest = JSON.parse(readFileSync(join(out, "tempered", "manifest.json"), "utf8")) as { entryPoints?: unknown };
    expect(manifest).toBeTypeOf("object");
    expect(readFileSync(join(out, "tempered", "tempered.h"), "utf8")).toContain("mhc_tempered_pre");
    // What each connection's kernels will do, before the count of files written.
    const said = io.err().split("\n");
    const at = said.indexOf("tempered (n = 4, 24 prenorm columns)");
    expect(at).toBeGreaterThanOrEqual(0);
    expect(said.slice(at + 1, at + 4)).toEqual([
      "  prenorm GEMM: tensor cores for bf16 (128-row tiles; phi split once per call from 1024 tokens), SIMT for fp32",
      "  res constraint: one thread per token",
      "  prenorm backward: tensor cores for bf16 where C % 8 == 0 and rows are 16-byte aligned, else SIMT",
    ]);
    expect(said.findIndex((l) => l.startsWith("wrote 8 files for 2 connection(s)"))).toBeGreaterThan(at);
  });

  it("reports a connection the target cannot compile yet with a coded error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-cuda-"));
    writeFileSync(join(dir, "hc.mhc"), "connection plain_hc(n: int = 4) {\n  streams n\n  norm rms_stream(eps = 1e-6)\n  pre dynamic tanh unconstrained()\n  post dynamic tanh unconstrained()\n  res dynamic tanh unconstrained()\n}\n");
    const io = memoryIO(dir);
    expect(await runCli(["compile", "hc.mhc", "--target", "cuda", "--out", "k", "--format", "json"], io)).toBe(1);
    expect((JSON.parse(io.out()) as { code: string }[]).map((d) => d.code)).toEqual(["MHC5001"]);
  });

  it("rejects --build for the tfjs target", () => {
    expect(runCli(["compile", "examples/tiny.mhc", "--target", "tfjs", "--out", "x", "--build"], memoryIO())).toBe(2);
  });
});

describe("mhc compile --target tfjs --models", () => {
  it("writes the model module next to the connection modules it imports", async () => {
    const out = mkdtempSync(join(tmpdir(), "mhc-tfjs-models-"));
    const io = memoryIO();
    expect(await runCli(["compile", "examples/tiny.mhc", "--target", "tfjs", "--out", out, "--models", "tiny_mhc"], io), io.err()).toBe(0);
    const model = readFileSync(join(out, "tiny_mhc.model.ts"), "utf8");
    expect(model).toContain("export function forward");
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { models?: unknown[] };
    expect(manifest.models?.length).toBe(1);
  });
});
