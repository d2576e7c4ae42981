import { describe, expect, it } from "vitest";
import { instantiateConnection, planConnection } from "../../../compiler/codegen/cuda/index.js";
import { kernelSummary } from "../../../compiler/codegen/cuda/summary.js";
import { check } from "./helpers.js";

const tiny = check("examples/tiny.mhc");
const hc = check("examples/hc-baseline.mhc");

const summary = (result: ReturnType<typeof check>, connection: string, n: number): string[] => kernelSummary(planConnection(result, instantiateConnection(result, connection, { n }), `c${n}`));

describe("CUDA target: the kernel summary `mhc compile` prints", () => {
  it("says the GEMM's tiles and pre-split threshold, and how the res constraint is spread, per stream count", () => {
    expect(summary(tiny, "mhc", 16)).toEqual([
      "c16 (n = 16, 288 prenorm columns)",
      "  prenorm GEMM: tensor cores for bf16 (128-row tiles; phi split once per call from 1024 tokens), SIMT for fp32",
      "  res constraint: groups of 16 lanes per token",
      "  prenorm backward: SIMT",
    ]);
    // n = 3: no power of two, one thread per token.
    expect(summary(tiny, "mhc", 3)[2]).toBe("  res constraint: one thread per token");
  });

  it("counts a per-stream projection's GEMM rows (n per token) in the pre-split threshold", () => {
    const lines = summary(hc, "hc", 4);
    expect(lines[0]).toBe("c4 (n = 4, 6 prenorm columns)");
    expect(lines[1]).toMatch(/^ {2}prenorm GEMM: tensor cores for bf16 \(128-row tiles; phi split once per call from 256 tokens\), SIMT for fp32$/);
  });
});
