import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { constraintGradientGraph } from "../../../compiler/codegen/cuda/backward/index.js";
import { generateCuda, instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import type { CompileValue } from "../../../compiler/lower/values.js";
import { buildConstraintGraph } from "../../../compiler/lower/constraint-graph.js";
import { interpret } from "../../../compiler/ir/interpret.js";
import { makeTensor } from "../../../compiler/ir/tensor.js";
import { compileCuda, findNvcc, requireNvccInCi } from "../../helpers/nvcc.js";
import { check, golden, root } from "./helpers.js";

const tiny = check("examples/tiny.mhc");
const gpu = check("scripts/gpu/connections.mhc");
const user = check("examples/my-constraint.mhc");

/** A deterministic pseudo-random sequence in [-1, 1) (no Math.random in tests). */
function values(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/**
 * The packed gradient graph of a constraint (A = [L, dH] -> dL) against central finite
 * differences of <H(L), dH> through the forward graph, both in the float64 interpreter.
 */
function gradientVsFiniteDifferences(result: typeof tiny, name: string, n: number, logitsShape: number[], args: Record<string, CompileValue> = {}, scale = 1): number {
  const scope = [...result.checked.constraints.values()].find((m) => m.has(name));
  const sig = scope!.get(name)!;
  const forward = buildConstraintGraph(result.checked, sig, n, new Map(Object.entries(args)), logitsShape, { batch: [], dtype: "f64" });
  const grad = constraintGradientGraph(forward.graph);
  const kL = grad.logits;
  const kH = grad.result;
  const L = values(kL, 7).map((v) => v * scale);
  const dH = values(kH, 11);
  const dL = interpret(grad.graph, { L: makeTensor([kL + kH], [...L, ...dH]) }).H!.data;
  const objective = (l: number[]): number => {
    const h = interpret(forward.graph, { L: makeTensor(logitsShape, l) }).H!.data;
    let s = 0;
    for (let i = 0; i < kH; i++) s += (h[i] as number) * (dH[i] as number);
    return s;
  };
  let worst = 0;
  let largest = 0;
  const step = 1e-6;
  for (let i = 0; i < kL; i++) {
    const up = [...L];
    const down = [...L];
    up[i] = (up[i] as number) + step;
    down[i] = (down[i] as number) - step;
    const fd = (objective(up) - objective(down)) / (2 * step);
    worst = Math.max(worst, Math.abs(fd - (dL[i] as number)));
    largest = Math.max(largest, Math.abs(fd));
  }
  return worst / Math.max(largest, 1e-12);
}

describe("CUDA backward: the constraints' reverse mode from the IR", () => {
  it("sinkhorn (n = 3, 20 iterations), sinkhorn_log, orthostochastic and birkhoff_lite match finite differences", () => {
    expect(gradientVsFiniteDifferences(tiny, "sinkhorn", 3, [3, 3], {}, 2)).toBeLessThan(1e-6);
    expect(gradientVsFiniteDifferences(gpu, "sinkhorn_log", 4, [4, 4], {}, 2)).toBeLessThan(1e-6);
    expect(gradientVsFiniteDifferences(gpu, "orthostochastic", 3, [3, 3])).toBeLessThan(1e-6);
    expect(gradientVsFiniteDifferences(tiny, "birkhoff_lite", 3, [6])).toBeLessThan(1e-6);
  });

  it("a user-defined constraint and the vector maps match finite differences", () => {
    expect(gradientVsFiniteDifferences(user, "tempered_sinkhorn", 3, [3, 3], { tau: 0.5, iters: 20 })).toBeLessThan(1e-6);
    expect(gradientVsFiniteDifferences(tiny, "sigmoid_eps", 4, [4], { eps: 1e-6 }, 3)).toBeLessThan(1e-6);
    expect(gradientVsFiniteDifferences(tiny, "scaled_sigmoid", 4, [4], { scale: 2 }, 3)).toBeLessThan(1e-6);
  });

  it("a constraint that ignores its logits has a zero gradient and no input", () => {
    const prelude = tiny.checked.constraints.get(tiny.checked.program.prelude!.absPath)!;
    const forward = buildConstraintGraph(tiny.checked, prelude.get("identity")!, 4, new Map(), [4, 4], { batch: [], dtype: "f32" });
    const grad = constraintGradientGraph(forward.graph);
    expect(grad.graph.findInput("L")).toBeUndefined();
    const dL = interpret(grad.graph, {}).H!;
    expect([...dL.data]).toEqual(new Array(16).fill(0));
  });
});

describe("CUDA backward: generated sources", () => {
  it("appends the backward to the forward's translation unit, header and manifest", () => {
    const out = generateCuda(tiny, "mhc", { compilerVersion: "test" });
    const cu = out.files.get("mhc.cu")!;
    const start = cu.indexOf("// ==== backward");
    expect(start).toBeGreaterThan(0);
    golden("mhc_backward.cu.golden", cu.slice(start));
    for (const slot of ["pre", "post", "res"]) expect(cu).toContain(`__device__ __forceinline__ void constraint_${slot}_grad(`);
    const backward = out.manifest.backward!;
    expect((backward.entryPoints as { name: string }[]).map((e) => e.name)).toEqual(["mhc_mhc_save_stats", "mhc_mhc_backward_workspace_size", "mhc_mhc_post_backward", "mhc_mhc_pre_backward"]);
    const pre = (backward.entryPoints as { name: string; args: { name: string }[] }[])[3]!;
    expect(pre.args.map((a) => a.name)).toEqual([
      "x", "dtype", "T", "C", "phi_pre", "phi_post", "phi_res", "alpha", "bias_pre", "bias_post", "bias_res", "stats", "h_pre", "du", "dh_pre", "dh_post", "dh_res", "dx_in", "dy", "h_res", "dx",
      "grad_phi_pre", "grad_phi_post", "grad_phi_res", "grad_alpha", "grad_bias_pre", "grad_bias_post", "grad_bias_res", "workspace", "workspace_bytes", "stream",
    ]);
    expect(backward.stats.shape).toEqual(["T", 25]);
    const h = out.files.get("mhc.h")!;
    expect(h).toContain("int mhc_mhc_pre_backward(const void* x, int dtype, int64_t T, int64_t C,");
    expect(h).toContain("#define MHC_MHC_STATS_WIDTH 25");
  });

  it("#line directives in the backward point into the .mhc sources and back at the right lines", () => {
    const cu = generateCuda(gpu, instantiateConnection(gpu, "gpu_tempered", { n: 3 }), { name: "t3" }).files.get("t3.cu")!;
    const lines = cu.split("\n");
    const start = lines.findIndex((l) => l.startsWith("// ==== backward"));
    expect(lines.slice(start).some((l) => /^#line \d+ ".*my-constraints.mhc"$/.test(l))).toBe(true);
    let restores = 0;
    lines.forEach((line, i) => {
      const m = /^#line (\d+) "t3.cu"$/.exec(line);
      if (m && i > start) {
        expect(Number(m[1])).toBe(i + 2);
        restores++;
      }
    });
    expect(restores).toBeGreaterThan(3);
  });

  it("static maps, tanh maps and norm none: no phi gradient for a map without projection, no s2 term", () => {
    const mixed = generateCuda(gpu, instantiateConnection(gpu, "gpu_mixed", { n: 4 }), { name: "mixed" });
    const cu = mixed.files.get("mixed.cu")!;
    const section = cu.slice(cu.indexOf("// ==== backward"));
    expect(section).toContain("const float dw = D[i] * a_m * (1.0f - z[i] * z[i]);");
    expect(section).toContain("*s2 = 0.0f;");
    expect(section).not.toContain("grad_phi_res");
    const residual = generateCuda(tiny, "residual", { compilerVersion: "test" });
    const rs = residual.files.get("residual.cu")!;
    expect(rs).toContain("mhc::elementwise_dx_kernel<TR, N><<<mhc::grid_for(T * N * C, 256), 256, 0, stream>>>(h_res, dy, h_pre, du, dx_in, dx, T, C);");
    expect(rs).not.toContain("prenorm_backward_kernel<");
  });
});

// ---- nvcc: the backward compiles for sm_90a (two variants: every projection with Sinkhorn, and no projection) ----

const nvcc = findNvcc();
requireNvccInCi(nvcc);

describe.skipIf(!nvcc)("CUDA backward: nvcc compiles the generated sources with the backward (sm_90a)", () => {
  it("prelude mhc at n = 4 and the residual connection", { timeout: 300_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-cuda-bwd-"));
    try {
      const outputs = [generateCuda(tiny, "mhc", { name: "mhc_n4" }), generateCuda(tiny, "residual", { name: "res" })];
      for (const out of outputs) for (const [path, text] of out.files) if (path.endsWith(".cu") || path.endsWith(".h")) writeFileSync(join(dir, path), text);
      // The mHC variant through ptxas, the residual to PTX.
      const results = await Promise.all(outputs.map((o, i) => compileCuda(nvcc!, root, dir, `${o.plan.symbol}.cu`, { mode: i === 0 ? "object" : "ptx" })));
      for (const r of results) expect(r.code, `nvcc failed\ncommand: ${r.command}\n${r.log}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
