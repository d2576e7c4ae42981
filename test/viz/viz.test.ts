import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { instantiateConnection } from "../../compiler/codegen/cuda/instantiate.js";
import { checkFiles } from "../../compiler/driver.js";
import { modelParameterSpecs } from "../../compiler/lower/model-parameters.js";
import { connectionDot } from "../../compiler/viz/connection-dot.js";
import { formatNumber } from "../../compiler/viz/dot.js";
import { modelDot } from "../../compiler/viz/model-dot.js";
import { memoryIO } from "../helpers/memory-io.js";
import { FLAT_STREAM_SOURCE, withCheckedSource } from "../codegen/cuda/helpers.js";

const tiny = checkFiles(["examples/tiny.mhc"]);
const clusters = (dot: string) => [...dot.matchAll(/label="(kernel \d[^"]*)"/g)].map((m) => m[1]);

describe("mhc viz pictures", () => {
  it("draws a model with every sublayer, its connection and the parameter total", () => {
    const model = tiny.checked.models.get("tiny_mhc")!;
    const dot = modelDot(tiny, model);
    const total = modelParameterSpecs(model).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(dot).toContain(`${total.toLocaleString("en-US")} parameters`);
    expect(dot).toContain(`block × ${model.layers} layers`);
    expect(dot).toContain("attention(heads = 4, kv_heads = 4)");
    expect(dot).toContain("res: dynamic sinkhorn(iters = 20, eps = 1e-6)");
    expect(dot.match(/RMSNorm → /g)).toHaveLength(model.block.length);
    expect(modelDot(tiny, model)).toBe(dot);
  });

  it("draws an mHC connection as the three CUDA kernels with F between them", () => {
    const dot = connectionDot(tiny, instantiateConnection(tiny, "mhc", { n: 8 }));
    expect(clusters(dot)).toEqual(["kernel 1: prenorm GEMM (one pass over x)", "kernel 2: coefficients (constraints in registers) + pre-mix", "kernel 3: post"]);
    expect(dot).toContain("[T, 80]  (pre 8, post 8, res 64)");
    expect(dot).toContain("H_res [T, 8, 8]");
  });

  it("draws HC's per-stream connection as the same three kernels", () => {
    const dot = connectionDot(tiny, instantiateConnection(tiny, "hc", { n: 4 }));
    expect(clusters(dot)).toEqual(["kernel 1: prenorm GEMM (one pass over x)", "kernel 2: coefficients (constraints in registers) + pre-mix", "kernel 3: post"]);
    expect(dot).not.toContain("CUDA target:");
  });

  it("draws a connection the CUDA target does not take as plain maths, with the reason", () => {
    withCheckedSource(FLAT_STREAM_SOURCE, (result) => {
      const dot = connectionDot(result, instantiateConnection(result, "flat_stream", {}));
      expect(clusters(dot)).toEqual([]);
      expect(dot).toMatch(/CUDA target: .*needs `projection per_stream`/);
    });
  });

  it("gives static maps no projection", () => {
    const hc = checkFiles(["examples/hc-baseline.mhc"]);
    const dot = connectionDot(hc, instantiateConnection(hc, "shc", {}));
    expect(dot).not.toContain("proj = xf");
    expect(dot.match(/logits = bias/g)).toHaveLength(3);
  });

  it("writes numbers as a .mhc file would", () => {
    expect([1e-6, 0.01, 20, 2.5e-5, 0].map(formatNumber)).toEqual(["1e-6", "0.01", "20", "2.5e-5", "0"]);
  });
});

describe("mhc viz command", () => {
  it("renders SVG with the embedded Graphviz and writes it atomically", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-viz-"));
    const io = memoryIO(process.cwd());
    expect(await runCli(["viz", "examples/tiny.mhc", "--model", "tiny_hc", "--out", join(dir, "m.svg")], io)).toBe(0);
    const svg = readFileSync(join(dir, "m.svg"), "utf8");
    expect(svg).toMatch(/<svg[\s\S]*<\/svg>\s*$/);
    expect(svg).toContain("tiny_hc");
    expect(readdirSync(dir)).toEqual(["m.svg"]);
  });

  it("prints DOT with --stdout and picks the file's first model by default", async () => {
    const io = memoryIO(process.cwd());
    expect(await runCli(["viz", "examples/deepseek-v4-flash.mhc", "--stdout"], io)).toBe(0);
    expect(io.out()).toMatch(/^digraph model \{/);
    expect(io.out()).toContain("model deepseek_v4_flash");
  });

  it("draws a connection with --set arguments", async () => {
    const io = memoryIO(process.cwd());
    expect(await runCli(["viz", "examples/tiny.mhc", "--connection", "mhc", "--set", "n=3", "--stdout"], io)).toBe(0);
    expect(io.out()).toContain("H_res [T, 3, 3]");
  });

  it("reports an unknown name as MHC6014 with a suggestion, and bad options as usage errors", async () => {
    const io = memoryIO(process.cwd());
    expect(await runCli(["viz", "examples/tiny.mhc", "--model", "tiny_mch", "--format", "json"], io)).toBe(1);
    const [d] = JSON.parse(io.out()) as { code: string; notes: string[] }[];
    expect(d!.code).toBe("MHC6014");
    expect(d!.notes.join(" ")).toContain("tiny_mhc");
    expect(await runCli(["viz", "examples/tiny.mhc", "--out", "x.png"], memoryIO())).toBe(2);
    expect(await runCli(["viz", "examples/tiny.mhc", "--model", "tiny", "--connection", "mhc"], memoryIO())).toBe(2);
  });
});
