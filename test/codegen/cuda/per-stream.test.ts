import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CudaCodegenError, generateCuda, instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import { statsWidth } from "../../../compiler/codegen/cuda/backward/index.js";
import { compileCuda, findNvcc, requireNvccInCi, type CompileResult } from "../../helpers/nvcc.js";
import { FLAT_STREAM_SOURCE, check, golden, root, withCheckedSource } from "./helpers.js";

// Hyper-Connections' per-stream norm and projection on the CUDA target: the prenorm GEMM runs
// over the T*n rows of C values, and the coefficient kernels gather each token's n rows.

const hcFile = check("examples/hc-baseline.mhc");

/**
 * The lines of `text` from the one starting with `from` up to (not including) the one starting
 * with `to`; `#line` directives back into the generated file lose their numbers (they move with
 * everything generated above the section; cuda-codegen.test.ts checks them).
 */
function section(text: string, from: string, to: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(from));
  const end = lines.findIndex((l, i) => i > start && l.startsWith(to));
  expect([start >= 0, end > start]).toEqual([true, true]);
  return lines.slice(start, end).map((l) => l.replace(/^#line \d+ "(\w+\.cu)"$/, '#line N "$1"')).join("\n") + "\n";
}
const gpu = check("scripts/gpu/connections.mhc");

describe("CUDA target: projection per_stream", () => {
  it("plans the prelude hc at n = 4 as n prenorm rows of [phi_pre | phi_post | phi_res] = 1 + 1 + 4 columns", () => {
    const out = generateCuda(hcFile, instantiateConnection(hcFile, "hc", { n: 4 }), { name: "hc_n4", compilerVersion: "test" });
    const { plan, manifest } = out;
    expect([plan.rows, plan.k]).toEqual([4, 6]);
    expect([plan.maps.pre.width, plan.maps.post.width, plan.maps.res.width]).toEqual([1, 1, 4]);
    expect([plan.maps.pre.column, plan.maps.post.column, plan.maps.res.column]).toEqual([0, 1, 2]);
    expect([plan.maps.pre.k, plan.maps.post.k, plan.maps.res.k]).toEqual([4, 4, 16]);
    expect(manifest.parameters.filter((p) => p.name.startsWith("phi_")).map((p) => p.shape)).toEqual([["C", 1], ["C", 1], ["C", 4]]);
    expect(manifest.connection["prenormRows"]).toBe(4);
    // save_stats: [n, K + 1] per token.
    expect(statsWidth(plan)).toBe(28);
    expect(manifest.backward?.stats.shape).toEqual(["T", 28]);
    // post_pre (unfused for per-stream projections) writes the same stats row.
    const entries = manifest.entryPoints as readonly { name: string; args: readonly { name: string; shape?: readonly (number | string)[] }[] }[];
    const postPre = entries.find((e) => e.name === "mhc_hc_n4_post_pre");
    expect(postPre?.args.find((a) => a.name === "stats_next")?.shape).toEqual(["T", 28]);
  });

  it("matches the goldens of the prelude hc at n = 4: the per-token coefficient functions, forward and backward", () => {
    const cu = generateCuda(hcFile, instantiateConnection(hcFile, "hc", { n: 4 }), { name: "hc_n4", compilerVersion: "test" }).files.get("hc_n4.cu")!;
    // The functions the per-stream projection changes (the kernels around them have their own goldens at mhc).
    golden("hc_n4_token_coefficients.cu.golden", section(cu, "// Kernel 2, one token's norm", "// Kernel 2 (design 4.2 item 2)"));
    golden("hc_n4_token_coefficients_backward.cu.golden", section(cu, "// Kernel B3, one token", "// Kernel B3: one token per thread"));
  });

  it("reads logit l of H_res from stream l % n, column l / n (H_res[:, i] from stream i), with each stream's 1 / r", () => {
    const cu = generateCuda(hcFile, instantiateConnection(hcFile, "hc", { n: 4 }), { name: "hc_n4" }).files.get("hc_n4.cu")!;
    expect(cu).toContain("const int row = l % N, col = l / N;");
    // H_res on one thread per token at n = 4: logit l of 16.
    expect(cu).toContain("L_res[l] = tanhf(proj[row * K + 2 + col] * rinv[row]) * alpha_res + bias_res[l];");
    // On groups of 8 lanes at n = 8: lane r's element j is logit l = r * 8 + j.
    const cu8 = generateCuda(hcFile, instantiateConnection(hcFile, "hc", { n: 8 }), { name: "hc_n8" }).files.get("hc_n8.cu")!;
    expect(cu8).toContain("L_res[j] = tanhf(proj[row * K + 2 + col] * rinv[row]) * alpha_res + bias_res[l];");
    expect(cu).toContain("L_pre[l] = tanhf(proj[l * K] * rinv[l]) * alpha_pre + bias_pre[l];");
    expect(cu).toContain("rinv[i] = 1.0f / sqrtf(ss[i] / (float)C + NORM_EPS);");
    // The GEMM over T * ROWS rows of R = C, and the SIMT prenorm backward with du read per token.
    expect(cu).toContain("return mhc::prenorm_split(T * ROWS, C, SIMT_TM");
    expect(cu).toContain("mhc::sum_split_partials<K>(proj_part, ss_part, T * ROWS, t0 * ROWS, count * ROWS, splits, s_proj, s_ss, s_tmp);");
    expect(cu).toMatch(/mhc::prenorm_backward_kernel<true, TR, 1, K, PRENORM_BWD_KC, BWD_TOKEN_TILE, PRENORM_BWD_BT, PhiColumns, ROWS><<<grid, 256, 0, stream>>>\(x, T \* ROWS, C,/);
    expect(cu).toContain("for (int i = 0; i < N; ++i) s2[i] = -drinv[i] * rinv[i] * rinv[i] * rinv[i] / (float)C;");
    // The tensor-core prenorm backward for bf16 x runs over the same T * ROWS rows of C values, as one stream, du
    // read per token (DU_ROWS = ROWS); the post's H_res^T dy mixes rows of different streams, so it is formed first.
    expect(cu).toContain("constexpr int BWD_MMA_N = 1;");
    expect(cu).toContain("const auto kernel = mhc::prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, false, PhiColumns, ROWS>;");
    expect(cu).toContain("constexpr int BWD_MMA_ROWS = 128, BWD_MMA_THREADS = 256,");
    expect(cu).toMatch(/kernel<<<grid_mma, BWD_MMA_THREADS, BWD_MMA_SMEM_BYTES, stream>>>\(bx, T \* ROWS, C,/);
    expect(cu).toContain("mhc::split_g_kernel<K, BWD_MMA_KP16><<<mhc::grid_for(T * ROWS * BWD_MMA_KP16, 256), 256, 0, stream>>>(g, T * ROWS, g_parts);");
    expect(cu).toContain("l.g_parts = at; at += mhc::align256((size_t)3 * T * ROWS * BWD_MMA_KP16 * sizeof(__nv_bfloat16));");
    expect(cu).not.toContain("prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, true");
  });

  it("norm rms with a per-stream projection: one r over all n*C values, the same s2 for every row", () => {
    const out = generateCuda(gpu, instantiateConnection(gpu, "gpu_stream_rms", { n: 4 }), { name: "srms" });
    const cu = out.files.get("srms.cu")!;
    expect([out.plan.rows, out.plan.k]).toEqual([4, 6]);
    expect(cu).toContain("const float r_inv = 1.0f / sqrtf(sum / ((float)N * (float)C) + NORM_EPS);");
    expect(cu).toContain("const float s2_all = -d * rinv[0] * rinv[0] * rinv[0] / ((float)N * (float)C);");
  });

  it("norm none with a static pre map: only post and res are projected (n = 3: widths 1 and 3)", () => {
    const out = generateCuda(gpu, instantiateConnection(gpu, "gpu_stream_none", { n: 3 }), { name: "snone" });
    expect([out.plan.rows, out.plan.k, out.plan.maps.pre.column, out.plan.maps.post.column, out.plan.maps.res.column]).toEqual([3, 4, undefined, 0, 1]);
    expect(out.manifest.parameters.map((p) => p.name)).toEqual(["phi_post", "phi_res", "alpha", "bias_pre", "bias_post", "bias_res"]);
    expect(out.files.get("snone.cu")!).toContain("for (int i = 0; i < N; ++i) s2[i] = 0.0f;");
  });

  it("keeps a precise error for norm rms_stream with a flat projection", () => {
    withCheckedSource(FLAT_STREAM_SOURCE, (result) => {
      expect(() => generateCuda(result, "flat_stream")).toThrow(CudaCodegenError);
      expect(() => generateCuda(result, "flat_stream")).toThrow(/`norm rms_stream` normalises each stream on its own and needs `projection per_stream`/);
    });
  });
});

const nvcc = findNvcc();
requireNvccInCi(nvcc);

describe.skipIf(!nvcc)("CUDA target: nvcc compiles per-stream connections with the backward (sm_90a)", () => {
  it("prelude hc at n = 4 and norm none at n = 3, to PTX", { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-cuda-ps-"));
    try {
      const outputs = [
        generateCuda(hcFile, instantiateConnection(hcFile, "hc", { n: 4 }), { name: "hc_n4" }),
        generateCuda(gpu, instantiateConnection(gpu, "gpu_stream_none", { n: 3 }), { name: "snone_n3" }),
      ];
      for (const out of outputs) for (const [path, text] of out.files) if (path.endsWith(".cu") || path.endsWith(".h")) writeFileSync(join(dir, path), text);
      const results: CompileResult[] = await Promise.all(outputs.map((o) => compileCuda(nvcc!, root, dir, `${o.plan.symbol}.cu`, { mode: "ptx" })));
      for (const r of results) expect(r.code, `nvcc failed\ncommand: ${r.command}\n${r.log}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
