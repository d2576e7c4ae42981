import { SLOTS } from "../../sema/checked.js";
import { f32Arg, parameterArgs, type AbiArg, type EntryPoint } from "./abi.js";
import { statsWidth } from "./backward/abi.js";
import {
  BLOCK_THREADS,
  PRENORM_MMA_SMEM_ONE_BLOCK,
  PRENORM_MMA_SMEM_TWO_BLOCKS,
  PRENORM_MMA_TWO_BLOCK_ARRAY_REGS,
  PRENORM_MMA_MAX_ACC,
  PRENORM_MMA_MAX_MT,
  PRENORM_MMA_MAX_NT,
  PRENORM_MMA_MAX_TM,
  PRENORM_PHI_PARTS,
  TARGET_BLOCKS,
} from "./knobs.js";
import type { ConnectionPlan } from "./plan.js";
import { phiConstruction, smallPostPreLauncher, smallPrenormConfig, smallWorkspaceLines } from "./small-prenorm.js";

/*
 * design.md 4.2 kernel plan item 4: the post of sublayer l fused with the prenorm GEMM of
 * sublayer l + 1, for a stack of sublayers of one connection. One entry point,
 * `mhc_<symbol>_post_pre`, runs y = post(x, f) and the whole pre of the next sublayer on y
 * (its coefficients and u): for a bf16 residual with a flat projection whose tile fits, the
 * fused kernel (runtime/cuda/include/mhc_post_prenorm.cuh) writes y and the next prenorm's
 * split-K partials in one pass, then the coefficient kernel runs on them unchanged; anything
 * else (fp32, per-stream projections, no projection, tiles that do not fit) runs post, then
 * pre, unfused, with the same results up to the fp32 reassociation of the split-K sums.
 * The split count of the partials never crosses the ABI: the entry point writes the stats
 * row the backward needs (mhc_<symbol>_save_stats' layout) itself.
 */

/** Tiling of post_prenorm_mma_kernel (mhc_post_prenorm.cuh). */
export interface PostPrenormConfig {
  readonly wn: number;
  readonly nt: number;
  readonly wm: number;
  readonly mt: number;
  readonly tm: number;
  readonly kp: number;
  /** Channels of all n streams per reduction step (BK = n * bc rows). */
  readonly bc: number;
  readonly bk: number;
  /** Rows of one MMA chunk (a fresh fragment each): 64, or 32 where BK is not a multiple of 64. */
  readonly mk: number;
  readonly stages: number;
  readonly parts: number;
  /** L2 prefetch size (bytes) of the x and f copies, 0: none. */
  readonly l2Prefetch: number;
  readonly blocksPerSm: number;
  readonly smemBytes: number;
  readonly minSteps: number;
}

/** Each split walks at least this many steps (as the unfused tensor-core prenorm). */
const POST_PRENORM_MIN_STEPS = 2;

/**
 * L2 prefetch (bytes) of the fused kernel's x and f copies: a step reads bc * 2 bytes of each row,
 * and the prefetch has the DRAM deliver the row's next bytes with them (used by the next steps).
 */
export const POST_PRENORM_L2_PREFETCH = 128;

const phiStride = (kp: number): number => (kp % 16 === 0 ? kp + 8 : kp);

/** mhc_post_prenorm.cuh post_prenorm_smem_bytes. */
export function postPrenormSmemBytes(n: number, tm: number, kp: number, bc: number, stages: number, parts: number): number {
  const bk = n * bc;
  return stages * (tm * (bk + 8) * 2 + tm * bc * 2 + bk * kp * 4) + parts * bk * phiStride(kp) * 2 + tm * (n * n + 1 + n + 1) * 4;
}

/**
 * Channels per step tried, widest first: each step moves bc * 2 bytes of every row of x, f and y
 * (runs of 64 bytes are preferred; on an H200 32-byte steps were 18% slower, 128-byte ones 1-3% faster,
 * see POST_PRENORM_FUSED).
 * Whole 16-byte chunks; n * bc a multiple of 32 (the MMA chunks).
 */
const STEP_CHANNELS: readonly number[] = [64, 32, 16, 8];

/** a > b in lexicographic order. */
function lexGreater(a: readonly number[], b: readonly number[]): boolean {
  const i = a.findIndex((v, j) => v !== b[j]);
  return i >= 0 && (a[i] as number) > (b[i] as number);
}

/**
 * Whether mhc_<name>_post_pre runs the fused kernel where it applies (CudaOptions.fusePostPrenorm
 * overrides it). Off: on an H200 (T = 8192, n = 4, bf16, 2026-11-26) the fused call took 0.908 ms
 * against 0.291 + 0.393 for post + pre at C = 7168 and 0.507 against 0.168 + 0.232 at C = 4096, and a
 * stack of 8 sublayers 6.76 instead of 5.03 ms: the kernel runs the post's arithmetic, the phi split
 * and the MMAs one after another in each step (one block per SM), so it is bound by neither the bytes
 * nor the tensor cores. Other tilings measured in the same run did not help: 64-channel steps 0.877 ms,
 * no L2 prefetch 0.886, 16-channel steps (two blocks per SM) 1.071 with a 256-byte prefetch (1.041
 * without, in an earlier run). Off, post_pre is post then pre: the same bits as the two entry points.
 */
export const POST_PRENORM_FUSED = false;

/**
 * The fused kernel's tiling for a connection, or undefined where it does not apply (no
 * tensor-core prenorm, a per-stream projection, or no tile that fits shared memory, e.g.
 * n = 16, whose raw phi tile alone exceeds it). Among the step widths (STEP_CHANNELS), the warp
 * layouts of the tensor-core prenorm, ring depths and blocks per SM: steps of at least 32 channels
 * if possible, then the fewest padded columns, at least three stages, the most residual bytes in
 * flight per SM, the larger token tile.
 */
export function postPrenormTiling(plan: ConnectionPlan): PostPrenormConfig | undefined {
  const cfg = plan.prenorm;
  if (!cfg?.mma || plan.rows !== 1 || plan.k === 0) return undefined;
  const n = plan.n;
  const k = plan.k;
  const parts = PRENORM_PHI_PARTS;
  const tiles = Math.ceil(k / 8);
  let best: { c: PostPrenormConfig; score: number[] } | undefined;
  for (const bc of STEP_CHANNELS) {
    const bk = n * bc;
    if (bk % 32 !== 0) continue;
    const mk = bk % 64 === 0 ? 64 : 32;
    for (const wn of [1, 2, 4, 8]) {
      const nt = Math.ceil(tiles / wn);
      if (nt > PRENORM_MMA_MAX_NT) continue;
      const wm = 8 / wn;
      const kp = wn * nt * 8;
      for (let mt = Math.min(PRENORM_MMA_MAX_MT, Math.floor(PRENORM_MMA_MAX_ACC / (nt * 4))); mt >= 1; mt--) {
        const tm = wm * 16 * mt;
        if (tm > PRENORM_MMA_MAX_TM) continue;
        const arrayRegs = mt * nt * 4 + (mk / 16) * mt * 4;
        for (const [blocksPerSm, budget] of [
          [2, PRENORM_MMA_SMEM_TWO_BLOCKS],
          [1, PRENORM_MMA_SMEM_ONE_BLOCK],
        ] as const) {
          if (blocksPerSm === 2 && arrayRegs > PRENORM_MMA_TWO_BLOCK_ARRAY_REGS) continue;
          if (arrayRegs > 2 * PRENORM_MMA_TWO_BLOCK_ARRAY_REGS) continue;
          for (const stages of [4, 3, 2]) {
            const smemBytes = postPrenormSmemBytes(n, tm, kp, bc, stages, parts);
            if (smemBytes > budget) continue;
            // Runs of at least 64 bytes first (capped: wider only costs shared memory), then the fewest padded
            // columns, a ring of three or more, the most bytes in flight per SM, the larger token tile.
            const score = [Math.min(bc, 32), -kp, stages >= 3 ? 1 : 0, (stages - 1) * tm * bk * blocksPerSm, tm];
            if (!best || lexGreater(score, best.score)) {
              best = {
                c: {
                  wn,
                  nt,
                  wm,
                  mt,
                  tm,
                  kp,
                  bc,
                  bk,
                  mk,
                  stages,
                  parts,
                  l2Prefetch: POST_PRENORM_L2_PREFETCH,
                  blocksPerSm,
                  smemBytes,
                  minSteps: POST_PRENORM_MIN_STEPS,
                },
                score,
              };
            }
          }
        }
      }
    }
  }
  return best?.c;
}

/** The tiling mhc_<name>_post_pre runs with: undefined where the fused kernel is off or does not apply. */
export function postPrenormConfig(plan: ConnectionPlan, fused: boolean = POST_PRENORM_FUSED): PostPrenormConfig | undefined {
  return fused ? postPrenormTiling(plan) : undefined;
}

/** The ABI entries (abi.ts appends them to the connection's table). */
export function postPreEntryPoints(
  plan: ConnectionPlan,
  common: {
    readonly x: AbiArg;
    readonly dtype: AbiArg;
    readonly T: AbiArg;
    readonly C: AbiArg;
    readonly stream: AbiArg;
  },
): EntryPoint[] {
  const n = plan.n;
  const sym = plan.symbol;
  const params = parameterArgs(plan, (name) => `sublayer l + 1's ${name}`);
  return [
    {
      name: `mhc_${sym}_post_pre_workspace_size`,
      doc: `bytes of device workspace mhc_${sym}_post_pre needs for (T, C); a pure function of (T, C): the larger of mhc_${sym}_workspace_size and the fused kernel's split-K partials`,
      args: [
        { ...common.T, doc: "tokens" },
        { ...common.C, doc: "hidden size" },
        {
          name: "bytes",
          ctype: "size_t*",
          role: "output",
          dtype: "size_t",
          doc: "host pointer receiving the size",
        },
      ],
    },
    {
      name: `mhc_${sym}_post_pre`,
      doc: `post of sublayer l, then pre of sublayer l + 1 on its output (a stack of sublayers of this connection): y = mhc_${sym}_post(x, f, h_post, h_res), then mhc_${sym}_pre(y) with sublayer l + 1's parameters; with a flat projection, up to a few tokens (the small-T prenorm), or bf16 where the fused tensor-core kernel is on, one fused pass writes y and the next prenorm's partials (design 4.2 item 4); same results as the two calls up to fp32 reassociation of the split-K sums`,
      args: [
        { ...common.x, doc: "sublayer l's residual streams" },
        {
          name: "f",
          ctype: "const void*",
          role: "input",
          dtype: "residual",
          shape: ["T", "C"],
          doc: "sublayer l's output F(u)",
        },
        common.dtype,
        common.T,
        common.C,
        f32Arg("h_post", ["T", n], "input", `sublayer l's H_post, as written by mhc_${sym}_pre`),
        f32Arg("h_res", ["T", n, n], "input", `sublayer l's H_res, as written by mhc_${sym}_pre`),
        ...params,
        {
          name: "y",
          ctype: "void*",
          role: "output",
          dtype: "residual",
          shape: ["T", n, "C"],
          doc: "the next residual (may be x itself)",
        },
        f32Arg("h_pre_next", ["T", n], "output", "sublayer l + 1's H_pre[t, i]"),
        f32Arg("h_post_next", ["T", n], "output", "sublayer l + 1's H_post[t, i]"),
        f32Arg("h_res_next", ["T", n, n], "output", "sublayer l + 1's H_res[t, out, in]"),
        {
          name: "u_next",
          ctype: "void*",
          role: "output",
          dtype: "residual",
          shape: ["T", "C"],
          doc: "sublayer l + 1's input u = sum_i H_pre[t, i] y[t, i, :] (must not overlap x or y)",
        },
        f32Arg("stats_next", ["T", statsWidth(plan)], "output", `what mhc_${sym}_save_stats would write after sublayer l + 1's pre (NULL: not written)`),
        {
          name: "workspace",
          ctype: "void*",
          role: "workspace",
          doc: `device scratch of mhc_${sym}_post_pre_workspace_size(T, C) bytes, 16-byte aligned (NULL allowed when the size is 0)`,
        },
        {
          name: "workspace_bytes",
          ctype: "size_t",
          role: "scalar",
          dtype: "size_t",
          doc: "its size in bytes",
        },
        common.stream,
      ],
    },
  ];
}

/** Constants of the fused kernel's tiling, in the connection's namespace. */
function constants(c: PostPrenormConfig): string[] {
  return [
    `// Post of sublayer l fused with the prenorm GEMM of l + 1 (mhc_post_prenorm.cuh; post-prenorm.ts): ${c.wm} x ${c.wn} warps, ${c.mt} x ${c.nt} m16n8 tiles`,
    `// per warp, ${c.tm} tokens x ${c.kp} columns per block, ${c.bc} channels of all N streams (${c.bk} rows) per step in MMA chunks of ${c.mk} rows,`,
    `// ${c.stages}-deep ring (${c.smemBytes} bytes).`,
    `constexpr int PP_WN = ${c.wn}, PP_NT = ${c.nt}, PP_WM = ${c.wm}, PP_MT = ${c.mt}, PP_TM = ${c.tm}, PP_BC = ${c.bc}, PP_MK = ${c.mk}, PP_STAGES = ${c.stages};`,
    `constexpr int PP_PARTS = ${c.parts}, PP_L2_PREFETCH = ${c.l2Prefetch}, PP_MIN_STEPS = ${c.minSteps}, PP_BLOCKS_PER_SM = ${c.blocksPerSm}, PP_SMEM_BYTES = ${c.smemBytes};`,
    `static_assert(PP_SMEM_BYTES == mhc::post_prenorm_smem_bytes<N, PP_TM, PP_WN * PP_NT * 8, PP_BC, PP_STAGES, PP_PARTS>(), "post-prenorm.ts and mhc_post_prenorm.cuh agree");`,
  ];
}

/** Host launchers of mhc_<symbol>_post_pre, inside the connection's namespace (after source.ts's launchers). */
export function postPreLaunchers(plan: ConnectionPlan, fused: boolean = POST_PRENORM_FUSED): string[] {
  const c = postPrenormConfig(plan, fused);
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const phiParams = withProj.map((s) => `const float* phi_${s}`).join(", ");
  const phiArgs = withProj.map((s) => `phi_${s}`).join(", ");
  const lines: string[] = ["// ---- post of sublayer l + pre of sublayer l + 1 (design 4.2 item 4) ----", ""];
  const small = smallPostPreLauncher(plan);
  if (small.length > 0) lines.push(...small, "");
  if (c) {
    lines.push(
      ...constants(c),
      "",
      "// Split-K plan of the fused kernel: a split is a range of channels of all N streams (rows j * C + c), a multiple of PP_BC.",
      "static mhc::PrenormSplit split_plan_post_pre(int64_t T, int64_t C) {",
      "mhc::PrenormSplit sp = mhc::prenorm_split(T, (int64_t)N * C, PP_TM, N * PP_BC, PP_BLOCKS_PER_SM * FILL_BLOCKS, PP_MIN_STEPS, K, PRENORM_TRAFFIC_DIV, SPLIT_OVERHEAD_STEPS);",
      "sp.chunk /= N;  // channels per split",
      "return sp;",
      "}",
      "",
      "static size_t post_pre_workspace_bytes(int64_t T, int64_t C) {",
      "const size_t fused = mhc::prenorm_workspace_bytes(T, split_plan_post_pre(T, C).splits, K);",
      "const size_t pre = workspace_bytes_for(T, C);",
      "const size_t tiled = fused > pre ? fused : pre;",
      ...smallWorkspaceLines(plan, "small_post_pre", "tiled"),
      "}",
      "",
      "// The fused path: bf16, fused kernel then the coefficient kernel (the launch of launch_pre's kernel 2) on its partials.",
      `static int launch_post_pre_fused(const __nv_bfloat16* x, const __nv_bfloat16* f, int64_t T, int64_t C, const float* h_post, const float* h_res, ${phiParams},`,
      "    const float* alpha, const float* bias_pre, const float* bias_post, const float* bias_res, __nv_bfloat16* y, float* h_pre_next, float* h_post_next,",
      "    float* h_res_next, __nv_bfloat16* u_next, float* stats_next, void* workspace, cudaStream_t stream) {",
      "const mhc::PrenormSplit sp = split_plan_post_pre(T, C);",
      "float* proj_part = static_cast<float*>(workspace);",
      "float* ss_part = reinterpret_cast<float*>(static_cast<char*>(workspace) + mhc::prenorm_proj_bytes(T, sp.splits, K));",
      "const bool vec_ok = C % 8 == 0 && mhc::aligned(x, 16) && mhc::aligned(f, 16) && mhc::aligned(y, 16);",
      phiConstruction(plan),
      "const auto kernel = mhc::post_prenorm_mma_kernel<N, K, PP_WN, PP_NT, PP_WM, PP_MT, PP_BC, PP_MK, PP_STAGES, PP_PARTS, PP_L2_PREFETCH, PP_BLOCKS_PER_SM, Phi>;",
      "static std::atomic<unsigned long long> smem_raised{0};",
      "int st = cuda_status(mhc::allow_dynamic_smem(kernel, PP_SMEM_BYTES, smem_raised));",
      "if (st != MHC_OK) return st;",
      "const dim3 grid((unsigned)((T + PP_TM - 1) / PP_TM), (unsigned)sp.splits);",
      `kernel<<<grid, ${BLOCK_THREADS}, PP_SMEM_BYTES, stream>>>(x, f, h_post, h_res, y, T, C, sp.chunk, vec_ok, phi, proj_part, ss_part);`,
      "st = cuda_status(cudaGetLastError());",
      "if (st != MHC_OK) return st;",
      "// Kernel 2 on y (written by the kernel before it: nothing of y is read before its wait).",
      "st = launch_coefficients<__nv_bfloat16>(y, T, C, sp.splits, proj_part, ss_part, alpha, bias_pre, bias_post, bias_res, h_pre_next, h_post_next, h_res_next, u_next, false, stream);",
      "if (st != MHC_OK || stats_next == nullptr) return st;",
      "// The stats row of the backward (mhc_<name>_save_stats' layout), from the fused partials.",
      `mhc::stats_kernel<<<mhc::grid_for(T * (K + 1), ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(proj_part, ss_part, T, K, sp.splits, stats_next);`,
      "return cuda_status(cudaGetLastError());",
      "}",
    );
  } else {
    lines.push(
      `// No fused kernel for this connection (${!plan.prenorm ? "no projection" : plan.rows !== 1 ? "per-stream projection" : !plan.prenorm.mma ? "no tensor-core prenorm" : !fused ? "off: post-prenorm.ts POST_PRENORM_FUSED, CudaOptions.fusePostPrenorm" : "its tile does not fit shared memory"}): post, then pre.`,
      "static size_t post_pre_workspace_bytes(int64_t T, int64_t C) {",
      "const size_t unfused = workspace_bytes_for(T, C);",
      ...smallWorkspaceLines(plan, "small_post_pre", "unfused"),
      "}",
    );
  }
  return lines;
}

/** The extern "C" definitions of the two entry points (after source.ts's). */
export function postPreEntryDefinitions(plan: ConnectionPlan, eps: readonly EntryPoint[], prototype: (ep: EntryPoint) => string, fusedOption: boolean = POST_PRENORM_FUSED): string[] {
  const ns = `mhc_${plan.symbol}`;
  const wsEp = eps.find((e) => e.name === `${ns}_post_pre_workspace_size`);
  const ep = eps.find((e) => e.name === `${ns}_post_pre`);
  if (!wsEp || !ep) throw new Error(`the ABI table of ${plan.symbol} has no post_pre entry points`);
  const fused = postPrenormConfig(plan, fusedOption) !== undefined;
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const phiArgs = withProj.map((s) => `phi_${s}`).join(", ");
  const required = ep.args.filter((a) => a.ctype.endsWith("*") && a.name !== "workspace" && a.name !== "stats_next").map((a) => a.name);
  const floatPtrs = ep.args.filter((a) => a.dtype === "f32").map((a) => a.name);
  const unfused = (tr: string): string[] => [
    `int st = ${ns}::launch_post<${tr}>(static_cast<const ${tr}*>(x), static_cast<const ${tr}*>(f), T, C, h_post, h_res, static_cast<${tr}*>(y), stream);`,
    "if (st != MHC_OK) return st;",
    `st = ${ns}::launch_pre<${tr}>(static_cast<const ${tr}*>(y), T, C${phiArgs ? `, ${phiArgs}` : ""}, alpha, bias_pre, bias_post, bias_res, h_pre_next, h_post_next, h_res_next, static_cast<${tr}*>(u_next), workspace, stream);`,
  ];
  const lines = [
    `extern "C" ${prototype(wsEp)} {`,
    "if (bytes == nullptr) return MHC_ERR_NULL_POINTER;",
    `if (!mhc::valid_shape(T, C, ${ns}::N)) return MHC_ERR_BAD_SHAPE;`,
    `*bytes = ${ns}::post_pre_workspace_bytes(T, C);`,
    "return MHC_OK;",
    "}",
    "",
    `extern "C" ${prototype(ep)} {`,
    `if (${required.map((a) => `${a} == nullptr`).join(" || ")}) return MHC_ERR_NULL_POINTER;`,
    "if (dtype != MHC_DTYPE_F32 && dtype != MHC_DTYPE_BF16) return MHC_ERR_BAD_DTYPE;",
    `if (!mhc::valid_shape(T, C, ${ns}::N)) return MHC_ERR_BAD_SHAPE;`,
    "const size_t es = mhc::residual_size(dtype);",
    "if (!mhc::aligned(x, es) || !mhc::aligned(f, es) || !mhc::aligned(y, es) || !mhc::aligned(u_next, es)) return MHC_ERR_MISALIGNED;",
    `if (${floatPtrs.map((a) => `!mhc::aligned(${a}, 4)`).join(" || ")}) return MHC_ERR_MISALIGNED;`,
    `const size_t need = ${ns}::post_pre_workspace_bytes(T, C);`,
    "if (workspace_bytes < need) return MHC_ERR_WORKSPACE_TOO_SMALL;",
    "if (need > 0 && workspace == nullptr) return MHC_ERR_NULL_POINTER;",
    "if (need > 0 && !mhc::aligned(workspace, 16)) return MHC_ERR_MISALIGNED;",
    "if (T == 0) return MHC_OK;",
  ];
  if (plan.k === 0) lines.push("(void)stats_next;  // no projection: the backward needs no stats");
  const assign = (l: string): string => l.replace(/^int st = /, "st = ");
  const small = smallPrenormConfig(plan) !== undefined;
  const smallCall = (tr: string): string =>
    `return ${ns}::launch_post_pre_small<${tr}>(static_cast<const ${tr}*>(x), static_cast<const ${tr}*>(f), T, C, h_post, h_res, ${phiArgs}, alpha, bias_pre, bias_post, bias_res, static_cast<${tr}*>(y), h_pre_next, h_post_next, h_res_next, static_cast<${tr}*>(u_next), stats_next, workspace, stream);`;
  if (small) {
    lines.push(
      `if (${ns}::small_post_pre(T)) {`,
      "// A few tokens: the post and the next prenorm in one kernel, then the coefficient kernel (and the stats row).",
      `if (dtype == MHC_DTYPE_BF16) ${smallCall("__nv_bfloat16")}`,
      smallCall("float"),
      "}",
    );
  }
  lines.push("int st;");
  if (fused) {
    lines.push(
      "if (dtype == MHC_DTYPE_BF16) {",
      `return ${ns}::launch_post_pre_fused(static_cast<const __nv_bfloat16*>(x), static_cast<const __nv_bfloat16*>(f), T, C, h_post, h_res, ${phiArgs}, alpha, bias_pre, bias_post, bias_res,`,
      "    static_cast<__nv_bfloat16*>(y), h_pre_next, h_post_next, h_res_next, static_cast<__nv_bfloat16*>(u_next), stats_next, workspace, stream);",
      "}",
      ...unfused("float").map(assign),
    );
  } else {
    lines.push("if (dtype == MHC_DTYPE_BF16) {", ...unfused("__nv_bfloat16").map(assign), "} else {", ...unfused("float").map(assign), "}");
  }
  if (plan.k > 0) {
    lines.push(
      "if (st != MHC_OK || stats_next == nullptr) return st;",
      "// The unfused pre's partials, summed as mhc_<name>_save_stats sums them.",
      "#ifndef MHC_NO_BACKWARD",
      `return mhc_${plan.symbol}_save_stats(dtype, T, C, workspace, workspace_bytes, stats_next, stream);`,
      "#else",
      "return MHC_ERR_UNSUPPORTED;",
      "#endif",
    );
  } else {
    lines.push("return st;");
  }
  lines.push("}");
  return lines;
}

/** manifest.json: the fused kernel's entry in `kernels` (none where the connection has no fused tile). */
export function postPreKernelManifest(plan: ConnectionPlan, fused: boolean = POST_PRENORM_FUSED): Record<string, unknown>[] {
  const c = postPrenormConfig(plan, fused);
  if (!c) return [];
  return [
    {
      name: "post_prenorm_mma_kernel",
      item: 4,
      dtype: "bf16",
      threads: BLOCK_THREADS,
      tile: {
        tokens: c.tm,
        columns: c.kp,
        warps: [c.wm, c.wn],
        mmaTiles: [c.mt, c.nt],
        channelsPerStep: c.bc,
        bk: c.bk,
        mmaChunk: c.mk,
        stages: c.stages,
        phiParts: c.parts,
        l2Prefetch: c.l2Prefetch,
      },
      dynamicSharedMemory: c.smemBytes,
      grid: "[ceil(T / tokens), S], S channel ranges of all n streams",
      targetBlocks: TARGET_BLOCKS,
    },
  ];
}
