import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateCuda, instantiateConnection, planConnection } from "../../../compiler/codegen/cuda/index.js";
import { FILL_BLOCKS, SMALL_POST_PRE_MAX_T, SMALL_PRENORM_MAX_T, SMALL_PRENORM_SMEM_BYTES } from "../../../compiler/codegen/cuda/knobs.js";
import { smallPrenormConfig, smallPrenormSmemBytes } from "../../../compiler/codegen/cuda/small-prenorm.js";
import { findNvcc, requireNvccInCi } from "../../helpers/nvcc.js";
import { check, root } from "./helpers.js";

const tiny = check("examples/tiny.mhc");
const planOf = (connection: string, args: Record<string, number> = {}) => planConnection(tiny, instantiateConnection(tiny, connection, args));

describe("CUDA target: the small-T prenorm (mhc_small_prenorm.cuh)", () => {
  it("applies to flat projections whose 8-channel split fits, not to per-stream ones, n = 16 or no projection", () => {
    const n4 = smallPrenormConfig(planOf("mhc", { n: 4 }));
    expect(n4).toMatchObject({ tokens: 16, maxT: SMALL_PRENORM_MAX_T, postPreMaxT: SMALL_POST_PRE_MAX_T });
    expect(n4!.maxChunk % 8).toBe(0);
    expect(smallPrenormConfig(planOf("mhc", { n: 8 }))).toBeDefined();
    expect(smallPrenormConfig(planOf("mhc", { n: 1 }))).toBeDefined();
    // 288 columns: 36 n8 tiles, more accumulators than a thread holds (and an 8-channel split's phi alone is 73 KB)
    expect(smallPrenormConfig(planOf("mhc", { n: 16 }))).toBeUndefined();
    expect(smallPrenormConfig(planOf("hc", { n: 4 }))).toBeUndefined();
    expect(smallPrenormConfig(planOf("residual"))).toBeUndefined();
  });

  it("takes the largest split that fits the shared-memory budget (n = 1 .. 8)", () => {
    for (const n of [1, 2, 3, 4, 6, 8]) {
      const plan = planOf("mhc", { n });
      const c = smallPrenormConfig(plan)!;
      expect(c.maxChunk % 8).toBe(0);
      expect(smallPrenormSmemBytes(n, plan.k, c.maxChunk)).toBeLessThanOrEqual(SMALL_PRENORM_SMEM_BYTES);
      expect(smallPrenormSmemBytes(n, plan.k, c.maxChunk + 8)).toBeGreaterThan(SMALL_PRENORM_SMEM_BYTES);
    }
  });

  const out = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 4 }), { name: "mhc_n4", compilerVersion: "test" });
  const cu = out.files.get("mhc_n4.cu")!;

  it("is what pre runs at small T, before the tiled kernels, and post_pre fuses the post into it", () => {
    const pre = cu.slice(cu.indexOf("static int launch_pre("), cu.indexOf("static int launch_post("));
    expect(pre.indexOf("if (small_prenorm(T)) {")).toBeGreaterThan(0);
    expect(pre.indexOf("launch_small_prenorm<TR, false>")).toBeLessThan(pre.indexOf("mhc::prenorm_mma_kernel<"));
    // the prenorm GEMM writes none of x, so kernel 2 may load x before its wait; the fused post writes y, so not there
    expect(pre).toContain("h_pre, h_post, h_res, u, true, stream);");
    expect(cu).toContain("launch_small_prenorm<TR, true>(x, f, h_post, h_res, y, T, C, plan, phi, proj_part, ss_part, stream);");
    expect(cu).toContain("h_pre_next, h_post_next, h_res_next, u_next, false, stream);");
    expect(cu).toMatch(/if \(mhc_mhc_n4::small_post_pre\(T\)\) \{[^}]*return mhc_mhc_n4::launch_post_pre_small<__nv_bfloat16>/);
    // post_pre takes it further than pre: its stats row comes from its own partials, not from pre's split plan
    const pp = cu.slice(cu.indexOf("static int launch_post_pre_small("), cu.indexOf("static size_t post_pre_workspace_bytes("));
    expect(pp).toContain("mhc::stats_kernel<<<mhc::grid_for(T * (K + 1), 256), 256, 0, stream>>>(proj_part, ss_part, T, K, plan.splits, stats_next);");
    expect(cu).toMatch(/static size_t post_pre_workspace_bytes\(int64_t T, int64_t C\) \{[^}]*if \(!small_post_pre\(T\)\) return unfused;/);
    // the backward's stats use the forward's split plan: the small one first
    expect(cu).toMatch(/forward_split\(int64_t T, int64_t C, int dtype\) \{\s*if \(small_prenorm\(T\)\) return split_plan_small\(T, C\);/);
    // the workspace covers its partials
    expect(cu).toMatch(/static size_t workspace_bytes_for\(int64_t T, int64_t C\) \{[^}]*if \(!small_prenorm\(T\)\) return tiled;/);
  });

  it("is listed in the manifest with its token limit and split rule", () => {
    const kernels = out.manifest.kernels as readonly { name: string; whenTokensAtMost?: number; postPreWhenTokensAtMost?: number; grid?: string }[];
    const k = kernels.find((e) => e.name === "small_prenorm_kernel");
    expect(k?.whenTokensAtMost).toBe(SMALL_PRENORM_MAX_T);
    expect(k?.postPreWhenTokensAtMost).toBe(SMALL_POST_PRE_MAX_T);
    expect(k?.grid).toContain(`floor(${FILL_BLOCKS} / ceil(T / tokens))`);
    expect((out.manifest.workspace as { formula: string }).formula).toContain(`where T <= ${SMALL_PRENORM_MAX_T} (small-T prenorm`);
  });

  const nvcc = findNvcc();
  requireNvccInCi(nvcc);
  it.skipIf(!nvcc)("plans splits as the manifest says: whole 8-channel ranges covering C, about 132 blocks (host code, nvcc)", () => {
    const c = smallPrenormConfig(planOf("mhc", { n: 4 }))!;
    const dir = mkdtempSync(join(tmpdir(), "mhc-small-"));
    try {
      const cases: [number, number][] = [];
      for (const T of [1, 7, 16, 17, 32, 48, 64]) for (const C of [8, 96, 100, 4096, 7168, 20000]) cases.push([T, C]);
      const smem: [number, number, number][] = [[1, 3, 8], [4, 24, 56], [4, 24, c.maxChunk], [8, 80, 24], [3, 15, 40]];
      writeFileSync(
        join(dir, "plan.cu"),
        [
          '#include <cstdio>',
          '#include "mhc_small_prenorm.cuh"',
          "int main() {",
          `  const long long cases[][2] = {${cases.map(([t, cc]) => `{${t}, ${cc}}`).join(", ")}};`,
          "  for (const auto& tc : cases) {",
          `    const mhc::PrenormSplit p = mhc::small_prenorm_split(tc[0], tc[1], mhc::SMALL_TOKENS, ${FILL_BLOCKS}, ${c.maxChunk});`,
          '    std::printf("%lld %lld %lld %lld\\n", tc[0], tc[1], (long long)p.chunk, (long long)p.splits);',
          "  }",
          // the shared-memory size small-prenorm.ts budgets with, for an fp32 residual and the post in front
          ...smem.map(([n, k, chunk]) => `  std::printf("smem ${n} ${k} ${chunk} %zu\\n", mhc::small_prenorm_smem_bytes<float, ${n}, ${k}, true>(${chunk}));`),
          "}",
        ].join("\n"),
      );
      const build = spawnSync(nvcc!, ["-std=c++17", "-arch=sm_90a", `-I${join(root, "runtime", "cuda")}`, `-I${join(root, "runtime", "cuda", "include")}`, join(dir, "plan.cu"), "-o", join(dir, "plan")], { encoding: "utf8" });
      expect(build.status, build.stderr).toBe(0);
      const run = spawnSync(join(dir, "plan"), { encoding: "utf8" });
      expect(run.status).toBe(0);
      const lines = run.stdout.trim().split("\n");
      for (const line of lines.filter((l) => l.startsWith("smem "))) {
        const [n, k, chunk, bytes] = line.split(" ").slice(1).map(Number) as [number, number, number, number];
        expect(bytes, line).toBe(smallPrenormSmemBytes(n, k, chunk));
      }
      const rows = lines.filter((l) => !l.startsWith("smem ")).map((l) => l.split(" ").map(Number));
      expect(rows).toHaveLength(cases.length);
      for (const [T, C, chunk, splits] of rows as [number, number, number, number][]) {
        // the manifest's rule
        const perTile = Math.max(1, Math.floor(FILL_BLOCKS / Math.ceil(T / 16)));
        const want = Math.min(c.maxChunk, Math.max(8, Math.ceil(Math.ceil(C / perTile) / 8) * 8));
        expect(chunk, `T=${T} C=${C}`).toBe(want);
        expect(splits).toBe(Math.ceil(C / chunk));
        // every channel in exactly one split, none empty
        expect((splits - 1) * chunk).toBeLessThan(C);
        expect(splits * chunk).toBeGreaterThanOrEqual(C);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
