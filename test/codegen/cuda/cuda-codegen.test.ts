import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CudaCodegenError, emitConstraintFunction, floatLiteral, generateCuda, instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import { PRENORM_MMA_PRESPLIT_MIN_TILES, prenormMmaConfig } from "../../../compiler/codegen/cuda/knobs.js";
import { compileCuda, findNvcc, requireNvccInCi, type CompileResult } from "../../helpers/nvcc.js";
import { balanced, check, golden, root } from "./helpers.js";
import { buildConstraintGraph } from "../../../compiler/lower/constraint-graph.js";
import { OPTIMIZATION_PIPELINE, runPipeline } from "../../../compiler/passes/pipeline.js";
import type { CompileValue } from "../../../compiler/lower/values.js";

const tiny = check("examples/tiny.mhc");
const gpu = check("scripts/gpu/connections.mhc");
const torchConnections = check("examples/torch/connections.mhc");


/** The emitted function of one prelude constraint at n, after the optimisation pipeline. */
function constraintText(name: string, n: number, logits: number[], args: Record<string, CompileValue> = {}, reroll = false): string {
  const prelude = tiny.checked.constraints.get(tiny.checked.program.prelude!.absPath)!;
  const sig = prelude.get(name)!;
  const g = buildConstraintGraph(tiny.checked, sig, n, new Map(Object.entries(args)), logits, { batch: [], dtype: "f32" });
  const fn = emitConstraintFunction(runPipeline(g.graph, OPTIMIZATION_PIPELINE), { name: `c_${name}`, sources: tiny.sources, reroll });
  return [...fn.globals, ...fn.lines].join("\n");
}

describe("CUDA target: generated sources", () => {
  it("a constraint that ignores its logits takes them by pointer (any caller's length binds)", () => {
    const cu = generateCuda(torchConnections, instantiateConnection(torchConnections, "gated_head", { n: 4 }), { name: "head" }).files.get("head.cu")!;
    expect(cu).toContain("void constraint_post(const float* L, float (&H)[4]) {");
    expect(cu).toContain("void constraint_res(const float* L, float (&H)[16]) {");
    expect(cu).toContain("void constraint_pre(const float (&L)[4], float (&H)[4]) {");
  });


  it("matches the goldens for the prelude `mhc` at n = 4", () => {
    const out = generateCuda(tiny, "mhc", { compilerVersion: "test" });
    expect([...out.files.keys()]).toEqual(["mhc.cu", "mhc.h", "manifest.json", "mhc_torch.py"]);
    golden("mhc.cu.golden", out.files.get("mhc.cu")!);
    golden("mhc.h.golden", out.files.get("mhc.h")!);
    golden("manifest.json.golden", out.files.get("manifest.json")!);
  });

  it("is deterministic: byte-identical from a fresh front end", () => {
    const a = generateCuda(tiny, "mhc", { compilerVersion: "test" });
    const b = generateCuda(check("examples/tiny.mhc"), "mhc", { compilerVersion: "test" });
    for (const [path, text] of a.files) expect(b.files.get(path)).toBe(text);
    const c = generateCuda(gpu, instantiateConnection(gpu, "gpu_tempered", { n: 3 }), { name: "t3" });
    const d = generateCuda(check("scripts/gpu/connections.mhc"), instantiateConnection(gpu, "gpu_tempered", { n: 3 }), { name: "t3" });
    for (const [path, text] of c.files) expect(d.files.get(path)).toBe(text);
  });

  it("states the ABI in the manifest: pinned parameter names, entry points, workspace", () => {
    const m = generateCuda(tiny, "mhc", { compilerVersion: "test" }).manifest;
    expect(m.parameters.map((p) => p.name)).toEqual(["phi_pre", "phi_post", "phi_res", "alpha", "bias_pre", "bias_post", "bias_res"]);
    expect(m.parameters[2]!.shape).toEqual(["4*C", 16]);
    const names = (m.entryPoints as { name: string; args: { name: string }[] }[]).map((e) => e.name);
    expect(names).toEqual(["mhc_mhc_workspace_size", "mhc_mhc_pre", "mhc_mhc_post", "mhc_mhc_last_cuda_error", "mhc_mhc_post_pre_workspace_size", "mhc_mhc_post_pre"]);
    const pre = (m.entryPoints as { name: string; args: { name: string }[] }[])[1]!;
    expect(pre.args.map((a) => a.name)).toEqual(["x", "dtype", "T", "C", "phi_pre", "phi_post", "phi_res", "alpha", "bias_pre", "bias_post", "bias_res", "h_pre", "h_post", "h_res", "u", "workspace", "workspace_bytes", "stream"]);
    expect(m.statusCodes["MHC_ERR_MISALIGNED"]).toBe(4);
  });

  it("kernel 2 runs the pre, res and post maps on warps 0, 1 and 2 at once; the pre-mix waits for the pre alone", () => {
    const cu = generateCuda(tiny, "mhc", { name: "mhc_n4" }).files.get("mhc_n4.cu")!;
    const kernel = cu.slice(cu.indexOf("coefficients_kernel("), cu.indexOf("// ---- host launchers"));
    // One function per map, each with its own norm (the same operations in every warp); at n = 4 one thread per
    // token runs each map: warp 0 the pre, warp 1 the post, warp 2 the res map.
    for (const slot of ["pre", "post", "res"]) expect(cu).toContain(`__device__ __noinline__ void token_${slot}(int64_t t, const float* proj, float rinv,`);
    expect(cu).not.toContain("lanes");
    // The forward's Sinkhorn (20 iterations) is one rolled loop of 19 copies, its row and column sums inverted by
    // one instruction each (proven normal: sums of values in [0, 1] plus eps).
    const resAt = cu.indexOf("void constraint_res(");
    const res = cu.slice(resAt, cu.indexOf("\n}\n", resAt));
    expect(res).toContain("19 copies of the 6 nodes below");
    expect(res).toContain("for (int it = 0; it < 19; ++it) {");
    expect(res).not.toContain("fdiv");
    expect(res.match(/mhc::rcp_normal\(/g)).toHaveLength(4);
    const order = ["mix.load_first(x);", "mhc::sum_split_partials<K>(", "token_pre(t0 + tt,", "mhc::named_arrive(1, COEF_MIX_EARLY);", "token_post(t0 + tt,", "token_res(t0 + tt,", "mhc::named_sync(1, COEF_MIX_EARLY);", "mix.finish(x, u, s_pre);"];
    const at = order.map((s) => kernel.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    // At n = 8 the res map runs on groups of 8 lanes and the per-thread res function is not emitted: warp 1 starts
    // it at once while warp 2 runs the post map first.
    const cu8 = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 8 }), { name: "mhc_n8" }).files.get("mhc_n8.cu")!;
    const kernel8 = cu8.slice(cu8.indexOf("coefficients_kernel("), cu8.indexOf("// ---- host launchers"));
    expect(cu8).toContain("__device__ __noinline__ void token_res_lanes(int64_t t, const float* proj, float rinv,");
    expect(cu8).not.toContain("void constraint_res(");
    expect(cu8).toContain("constexpr int COEF_MIX_EARLY = 192;");
    expect(kernel8).toMatch(/if \(warp == 2\) \{\s*if \(tt < count\) \{[^}]*token_post\(t0 \+ tt,/);
    const order8 = ["mix.load_first(x);", "mhc::sum_split_partials<K>(", "token_pre(t0 + tt,", "mhc::named_arrive(1, COEF_MIX_EARLY);", "token_post(t0 + tt,", "token_res_lanes(t0 + tc,", "mhc::named_sync(1, COEF_MIX_EARLY);", "mix.finish(x, u, s_pre);"];
    const at8 = order8.map((s) => kernel8.indexOf(s));
    expect(at8.every((i) => i >= 0)).toBe(true);
    expect([...at8].sort((a, b) => a - b)).toEqual(at8);
    // Gates and biases: into registers before the wait for the GEMM, into shared memory once the split-K sums are
    // issued (one barrier publishes both); the maps read them there.
    const staged = [
      "param[j] = i < 3 ? alpha[i] : i < 7 ? bias_pre[i - 3] : i < 11 ? bias_post[i - 7] : i < 27 ? bias_res[i - 11] : 0.0f;",
      "mhc::wait_prior_grids();",
      "mhc::sum_split_partials<K>(",
      "if (i < 27) s_params[i] = param[j];",
      "__syncthreads();",
      "token_pre(t0 + tt, s_proj + tt * K, rinv, s_alpha, s_bias_pre, h_pre, store, s_pre + tt * N);",
    ];
    const stagedAt = staged.map((s) => kernel.indexOf(s));
    expect(stagedAt.every((i) => i >= 0)).toBe(true);
    expect([...stagedAt].sort((a, b) => a - b)).toEqual(stagedAt);
    expect(kernel.slice(0, kernel.indexOf("mhc::wait_prior_grids();"))).not.toMatch(/proj_part\[|ss_part\[|sum_split_partials/);
    // n = 16: 3 + 16 + 16 + 256 parameters, two a thread; no projection (K = 0): stored, then one barrier.
    const n16 = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 16 }), { name: "m16" }).files.get("m16.cu")!;
    expect(n16).toContain("float param[2];");
    expect(n16).toContain("if (i < 291) s_params[i] = param[j];");
    const residual = generateCuda(tiny, "residual", { name: "r" }).files.get("r.cu")!;
    expect(residual).toMatch(/if \(i < 6\) s_params\[i\] = param\[j\];\n[^]*?__syncthreads\(\);\n\s*if \(warp == 0\)/);
    // ... and with no GEMM before it (the kernel before may be the previous post, writing x) it reads nothing before the wait.
    const rk = residual.slice(residual.indexOf("coefficients_kernel("), residual.indexOf("// ---- host launchers"));
    expect(rk.indexOf("mhc::wait_prior_grids();")).toBeLessThan(rk.indexOf("mix.load_first(x);"));
    expect(rk.indexOf("mhc::wait_prior_grids();")).toBeLessThan(rk.indexOf("param[j] = i < 3 ? alpha[i]"));
    // Channel slices of at most COEF_MIX_EARLY vectors; the prenorm GEMM is launched overlapped where its grid is resident at once.
    expect(cu).toContain("const int64_t chunks = (C / (vec ? V : 1) + COEF_MIX_EARLY - 1) / COEF_MIX_EARLY;");
    expect(cu).toMatch(/mhc::launch_overlapped\(overlap, kernel, grid, dim3\(256\), MMA_SMEM_BYTES, stream, x, T, R,/);
    expect(cu).toMatch(/mhc::launch_overlapped\(overlap, mhc::prenorm_kernel<TR, K,/);
  });

  it("splits phi once per call where the GEMM has many token tiles, and only there (workspace, launcher, manifest)", () => {
    const out = generateCuda(tiny, "mhc", { name: "mhc_n4" });
    const cu = out.files.get("mhc_n4.cu")!;
    const cfg = prenormMmaConfig(24)!;
    // n = 4: 128-token tiles, the same 64-row steps; the pre-split ring (x + 3 parts of 24 columns) still fits two blocks per SM.
    expect([cfg.tm, cfg.bk, cfg.blocksPerSm, cfg.presplitStages, cfg.presplitSmemBytes]).toEqual([128, 64, 2, 4, 4 * (128 * 72 * 2 + 3 * 64 * 24 * 2)]);
    expect(prenormMmaConfig(288)!.presplitStages).toBe(3);
    expect(cu).toContain(`constexpr int64_t MMA_PRESPLIT_MIN_TILES = ${PRENORM_MMA_PRESPLIT_MIN_TILES};`);
    expect(cu).toContain("return (T + MMA_TM - 1) / MMA_TM >= MMA_PRESPLIT_MIN_TILES;");
    // The workspace counts the parts exactly when the launcher writes them, after the partials.
    expect(cu).toContain("const size_t parts = mma_presplit(T) ? mhc::mma_phi_parts_bytes((int64_t)N * C, MMA_WN * MMA_NT * 8, MMA_PARTS) : 0;");
    const launch = cu.slice(cu.indexOf("if (mma_presplit(T)) {"), cu.indexOf("// fp32 x: the SIMT kernel"));
    const order = ["mhc::prenorm_workspace_bytes(T, plan.splits, K)", "mhc::split_phi_kernel<K,", "prenorm_mma_kernel<K, MMA_WN, MMA_NT, MMA_WM, MMA_MT, MMA_BK, MMA_PRESPLIT_STAGES, MMA_PARTS, MMA_BLOCKS_PER_SM, true, Phi>", "} else {", "MMA_STAGES, MMA_PARTS, MMA_BLOCKS_PER_SM, false, Phi>"];
    const at = order.map((s) => launch.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    const kernels = out.manifest.kernels as { name: string; presplit?: { minTiles: number; stages: number } }[];
    expect(kernels.find((k) => k.name === "prenorm_mma_kernel")!.presplit).toMatchObject({ minTiles: PRENORM_MMA_PRESPLIT_MIN_TILES, stages: 4 });
    expect(kernels.some((k) => k.name === "split_phi_kernel")).toBe(true);
  });

  it("leaves out the projection of static maps and of constraints that ignore their logits", () => {
    const mixed = generateCuda(gpu, instantiateConnection(gpu, "gpu_mixed", { n: 4 }), { name: "mixed" });
    expect(mixed.plan.k).toBe(8);
    expect(mixed.manifest.parameters.map((p) => p.name)).toEqual(["phi_pre", "phi_post", "alpha", "bias_pre", "bias_post", "bias_res"]);
    const cu = mixed.files.get("mixed.cu")!;
    expect(cu).toContain("tanhf(proj[i] * rinv)");
    expect(cu).toContain("const float rinv = 1.0f;"); // norm none
    const residual = generateCuda(tiny, "residual", { compilerVersion: "test" });
    expect(residual.plan.k).toBe(0);
    expect(residual.files.get("residual.cu")).not.toContain("prenorm_kernel<");
  });

  it("emits #line directives into the .mhc sources and back into the generated file", () => {
    const cu = generateCuda(tiny, "mhc", { compilerVersion: "test" }).files.get("mhc.cu")!;
    const lines = cu.split("\n");
    expect(cu).toMatch(/#line \d+ "<std>\/std.mhc"/);
    lines.forEach((line, i) => {
      const m = /^#line (\d+) "mhc.cu"$/.exec(line);
      if (m) expect(Number(m[1])).toBe(i + 2);
    });
  });

  it("rejects what the target does not implement yet with a clear error", () => {
    const wide = instantiateConnection(tiny, "mhc", { n: 17 });
    expect(() => generateCuda(tiny, wide)).toThrow(CudaCodegenError);
    expect(() => generateCuda(tiny, wide)).toThrow(/1 to 16 streams, not 17/);
    expect(() => generateCuda(tiny, "mhc", { name: "not an identifier" })).toThrow(/C identifier/);
  });
});

describe("CUDA target: the constraint emitter", () => {
  it("sinkhorn: max-subtracted softmax, unrolled loops over [n, n] arrays, balanced braces", () => {
    const text = constraintText("sinkhorn", 3, [3, 3], { iters: 2 });
    expect(text).toContain("__device__ __forceinline__ void c_sinkhorn(const float (&L)[9], float (&H)[9]) {");
    expect(text).toMatch(/m\[\w+\] = mhc::max_nan\(m\[\w+\], L\[/);
    expect(text).toMatch(/expf\(L\[[^\]]+\] - m\[/);
    expect(text).toContain("#pragma unroll");
    expect(text).toMatch(/#line \d+ "<std>\/std.mhc"/);
    expect(text).not.toMatch(/undefined|NaN(?!_)|\[object/);
    expect(balanced(text)).toBe(true);
  });

  it("reroll: sinkhorn's repeat becomes one rolled loop carrying M; the unrolled text has the same node order", () => {
    // iters = 5: softmax + eps, one row step, then 4 copies of (column step, row step) = 6 nodes each.
    const rolled = constraintText("sinkhorn", 3, [3, 3], { iters: 5 }, true);
    const flat = constraintText("sinkhorn", 3, [3, 3], { iters: 5 });
    expect(flat).not.toContain("for (int it = 0;");
    expect(rolled).toMatch(/\/\/ %\d+\.\.%\d+: 4 copies of the 6 nodes below \(a source loop the IR unrolled\), rolled/);
    expect(rolled).toContain("#pragma unroll 1\n  for (int it = 0; it < 4; ++it) {");
    // One carried array, initialised before the loop and written at the end of each copy.
    const carried = rolled.match(/float (s\d+)\[9\];/);
    expect(carried).not.toBeNull();
    const name = (carried as RegExpMatchArray)[1] as string;
    expect(rolled).toContain(`for (int i = 0; i < 9; ++i) ${name}[i] = v`);
    // The node comments of the first copy and the tail appear in the same order in both texts.
    const comments = (text: string): string[] => text.split("\n").filter((l) => /^\s*\/\/ %\d+ = /.test(l)).map((l) => l.trim().replace(/%\d+/g, "%"));
    const rolledOps = comments(rolled);
    const flatOps = comments(flat);
    expect(rolledOps.length).toBe(flatOps.length - 3 * 6);
    expect(rolledOps).toEqual([...flatOps.slice(0, rolledOps.length - 3), ...flatOps.slice(-3)]);
    expect(balanced(rolled)).toBe(true);
    // Two copies are below REROLL_MIN_REPEATS: left unrolled.
    expect(constraintText("sinkhorn", 3, [3, 3], { iters: 3 }, true)).not.toContain("for (int it = 0;");
    // n = 16 arrays (local memory, rolled element loops) are not rerolled.
    expect(constraintText("sinkhorn", 16, [16, 16], { iters: 5 }, true)).not.toContain("for (int it = 0;");
  });

  it("sinkhorn_log: max-shifted logsumexp", () => {
    const text = constraintText("sinkhorn_log", 4, [4, 4], { iters: 1 });
    expect(text).toContain("mhc::lse_finish(");
    expect(text).toMatch(/s\[\w+\] \+= expf\(/);
    expect(balanced(text)).toBe(true);
  });

  it("birkhoff_lite: perms(n) becomes a __constant__ table", () => {
    const text = constraintText("birkhoff_lite", 3, [6]);
    expect(text).toMatch(/__constant__ const float c_birkhoff_lite_k\d+\[54\] = \{/);
    expect(balanced(text)).toBe(true);
  });

  it("identity ignores its logits; n = 16 arrays share local-memory buffers and stay rolled", () => {
    expect(constraintText("identity", 4, [4, 4])).toContain("(void)L;");
    const big = constraintText("sinkhorn", 16, [16, 16], { iters: 3 });
    expect(big).toMatch(/float b0\[256\];/);
    expect(big).toContain("#pragma unroll 1");
    expect(big).toMatch(/float\* const v\d+ = b\d+;/);
    expect(balanced(big)).toBe(true);
  });

  it("prints float32 literals that round-trip", () => {
    for (const v of [1e-6, 0.01, 2, -8, 1e-12, 3.4e38, 1 / 3]) {
      const text = floatLiteral(v).replace(/[()f]/g, "");
      expect(Math.fround(Number(text))).toBe(Math.fround(v));
    }
    expect(floatLiteral(-Infinity)).toBe("(-INFINITY)");
  });
});

// ---- nvcc: every generated .cu compiles for sm_90a ----

const nvcc = findNvcc();
requireNvccInCi(nvcc);
if (!nvcc) console.warn("test/codegen/cuda: nvcc not found on PATH or in /usr/local/cuda-13.0/bin: skipping the CUDA compile tests");

describe.skipIf(!nvcc)("CUDA target: nvcc compiles the generated sources (sm_90a)", () => {
  it("n = 1, 4, 16, sinkhorn_log, orthostochastic, birkhoff_lite, a user constraint and static maps that ignore their logits", { timeout: 240_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-cuda-"));
    try {
      const outputs = [
        generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 1 }), { name: "mhc_n1" }),
        generateCuda(tiny, "mhc", { name: "mhc_n4" }),
        generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 16 }), { name: "mhc_n16" }),
        generateCuda(gpu, instantiateConnection(gpu, "gpu_sinkhorn_log", { n: 4 }), { name: "slog" }),
        generateCuda(gpu, instantiateConnection(gpu, "gpu_ortho", { n: 4 }), { name: "ortho" }),
        generateCuda(tiny, "mhc_lite", { name: "lite" }),
        generateCuda(gpu, instantiateConnection(gpu, "gpu_tempered", { n: 3 }), { name: "tempered" }),
        // post static fixed_ones(), res static identity() at n = 4: constraints without L in their graph
        generateCuda(torchConnections, instantiateConnection(torchConnections, "gated_head", { n: 4 }), { name: "head" }),
      ];
      const files: string[] = [];
      for (const out of outputs) {
        for (const [path, text] of out.files) if (!path.endsWith(".json")) writeFileSync(join(dir, path), text);
        files.push(`${out.plan.symbol}.cu`);
      }
      // Two at a time (CI has 2 cores).
      const results: CompileResult[] = [];
      const queue = [...files];
      await Promise.all(
        [0, 1].map(async () => {
          // The forward alone, to PTX: NVVM checks every variant's code; ptxas runs in the
          // backward's test (mhc at n = 4, forward and backward) and in the GPU scripts' builds.
          for (let f = queue.shift(); f; f = queue.shift()) results.push(await compileCuda(nvcc!, root, dir, f, { mode: "ptx", defines: ["MHC_NO_BACKWARD"] }));
        }),
      );
      for (const r of results) {
        expect(r.code, `nvcc failed on ${join(dir, r.file)}\ncommand: ${r.command}\n${r.log}`).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
