import { SLOTS } from "../../sema/checked.js";
import { BLOCK_THREADS, FILL_BLOCKS, SMALL_KERNEL_CARVEOUT, SMALL_POST_PRE_MAX_T, SMALL_PRENORM_MAX_T, SMALL_PRENORM_SMEM_BYTES } from "./knobs.js";
import type { ConnectionPlan } from "./plan.js";

/*
 * The small-T prenorm (runtime/cuda/include/mhc_small_prenorm.cuh): mhc_<name>_pre runs it as kernel 1 up to
 * SMALL_PRENORM_MAX_T tokens and mhc_<name>_post_pre with the post in front (design 4.2 item 4) up to
 * SMALL_POST_PRE_MAX_T, so that a decode step of a stack is two kernels a sublayer (this one, then the coefficient
 * kernel) instead of three. This file chooses its sizes and writes its constants and launchers.
 */

export interface SmallPrenormConfig {
  /** Tokens per block. */
  readonly tokens: number;
  /** The most tokens a pre call may have to take this path, and a post_pre call (with the post in front). */
  readonly maxT: number;
  readonly postPreMaxT: number;
  /** Channels per split at most (a multiple of 8): the split's rows fit SMALL_PRENORM_SMEM_BYTES. */
  readonly maxChunk: number;
}

/** mhc_small_prenorm.cuh: warps of a block, tokens of a block (one m16 tile). */
const WARPS = BLOCK_THREADS / 32;
const TOKENS = 16;
/** Most n8 column tiles (mhc_small_prenorm.cuh: 4 accumulators each, at most 64 a thread). */
const MAX_TILES = 16;

/**
 * Dynamic shared memory of the small-T kernel with the post in front, fp32 residual (the larger dtype), for
 * `chunk` channels: mhc_small_prenorm.cuh small_prenorm_smem_bytes<float, N, K, true>.
 */
export function smallPrenormSmemBytes(n: number, k: number, chunk: number): number {
  const cols = Math.ceil(k / 8) * 8;
  const phiStride = cols % 16 === 8 ? cols : cols + 8;
  const rows = n * chunk;
  const xStride = Math.ceil(rows / 32) * 32 + 4;
  const main = Math.max(4 * rows * phiStride + 4 * TOKENS * xStride, 4 * WARPS * TOKENS * (cols + 1));
  return main + 4 * TOKENS * (n * n + n);
}

/**
 * The small-T path of a connection, or undefined: it needs a flat projection (a split holds every
 * stream of its channels), at most MAX_TILES n8 column tiles, and an 8-channel split within the
 * shared-memory budget (the largest multiple of 8 channels that fits is the most a split takes).
 */
export function smallPrenormConfig(plan: ConnectionPlan): SmallPrenormConfig | undefined {
  if ((SMALL_PRENORM_MAX_T <= 0 && SMALL_POST_PRE_MAX_T <= 0) || !plan.prenorm || plan.rows !== 1 || plan.k === 0) return undefined;
  if (Math.ceil(plan.k / 8) > MAX_TILES) return undefined;
  if (smallPrenormSmemBytes(plan.n, plan.k, 8) > SMALL_PRENORM_SMEM_BYTES) return undefined;
  let maxChunk = 8;
  while (smallPrenormSmemBytes(plan.n, plan.k, maxChunk + 8) <= SMALL_PRENORM_SMEM_BYTES) maxChunk += 8;
  return { tokens: TOKENS, maxT: SMALL_PRENORM_MAX_T, postPreMaxT: SMALL_POST_PRE_MAX_T, maxChunk };
}

/** Constants of the small-T path, in the connection's namespace. */
export function smallPrenormConstants(c: SmallPrenormConfig): string[] {
  return [
    `// Small-T prenorm (knobs.ts, mhc_small_prenorm.cuh): pre up to ${c.maxT} tokens, post_pre (the post in front) up to ${c.postPreMaxT}; blocks of`,
    `// ${c.tokens} tokens x splits of at most ${c.maxChunk} channels' rows, one round of loads and one tile of tf32 MMAs each.`,
    `constexpr int64_t SMALL_MAX_T = ${c.maxT}, SMALL_POST_PRE_MAX_T = ${c.postPreMaxT};`,
    `constexpr int SMALL_TS = ${c.tokens}, SMALL_MAX_CHUNK = ${c.maxChunk};`,
    `static_assert(SMALL_TS == mhc::SMALL_TOKENS && mhc::small_prenorm_smem_bytes<float, N, K, true>(SMALL_MAX_CHUNK) <= ${SMALL_PRENORM_SMEM_BYTES}, "small-prenorm.ts and mhc_small_prenorm.cuh agree");`,
  ];
}

/** Split plan and launcher of the small-T kernel (after the Phi struct, before launch_pre). */
export function smallPrenormLaunchers(plan: ConnectionPlan): string[] {
  if (!smallPrenormConfig(plan)) return [];
  return [
    "// Whether a pre call of T tokens takes the small-T prenorm, whether a post_pre call does, and their split plan.",
    "static bool small_prenorm(int64_t T) {",
    "return T <= SMALL_MAX_T;",
    "}",
    "",
    "static bool small_post_pre(int64_t T) {",
    "return T <= SMALL_POST_PRE_MAX_T;",
    "}",
    "",
    "static mhc::PrenormSplit split_plan_small(int64_t T, int64_t C) {",
    "return mhc::small_prenorm_split(T, C, SMALL_TS, FILL_BLOCKS, SMALL_MAX_CHUNK);",
    "}",
    "",
    "// The small-T kernel: the prenorm partials of x, or with POST of y = post(x, f) (also stored). Launched overlapped",
    "// when its grid is resident at once (it waits for the kernel before it before reading anything).",
    "template <typename TR, bool POST>",
    "static int launch_small_prenorm(const TR* x, const TR* f, const float* h_post, const float* h_res, TR* y, int64_t T, int64_t C, const mhc::PrenormSplit& plan,",
    "    const Phi& phi, float* proj_part, float* ss_part, cudaStream_t stream) {",
    "const auto kernel = mhc::small_prenorm_kernel<TR, N, K, POST, Phi>;",
    "static std::atomic<unsigned long long> smem_raised{0};",
    "const int st = cuda_status(mhc::allow_dynamic_smem(kernel, (int)mhc::small_prenorm_smem_bytes<TR, N, K, POST>(SMALL_MAX_CHUNK), smem_raised));",
    "if (st != MHC_OK) return st;",
    ...(SMALL_KERNEL_CARVEOUT > 0
      ? [
          "// A carveout of its own (knobs.ts SMALL_KERNEL_CARVEOUT): not the one a kernel with much shared memory left.",
          "static std::atomic<unsigned long long> carveout_set{0};",
          "const int st_c = cuda_status(mhc::prefer_carveout(kernel, SMALL_KERNEL_CARVEOUT, carveout_set));",
          "if (st_c != MHC_OK) return st_c;",
        ]
      : []),
    "const bool vec_ok = C % mhc::vec16<TR>() == 0 && mhc::aligned(x, 16) && (!POST || (mhc::aligned(f, 16) && mhc::aligned(y, 16)));",
    "const dim3 grid((unsigned)((T + SMALL_TS - 1) / SMALL_TS), (unsigned)plan.splits);",
    "const bool overlap = OVERLAP_LAUNCHES && (int64_t)grid.x * grid.y <= OVERLAP_GEMM_MAX_BLOCKS;",
    `return cuda_status(mhc::launch_overlapped(overlap, kernel, grid, dim3(${BLOCK_THREADS}), mhc::small_prenorm_smem_bytes<TR, N, K, POST>((int)plan.chunk), stream,`,
    "    x, f, h_post, h_res, y, T, C, (int)plan.chunk, vec_ok, phi, proj_part, ss_part));",
    "}",
  ];
}

/** The post_pre launcher of the small-T path: the fused small kernel, then the coefficient kernel on y, then the stats row. */
export function smallPostPreLauncher(plan: ConnectionPlan): string[] {
  if (!smallPrenormConfig(plan)) return [];
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const phiParams = withProj.map((s) => `const float* phi_${s}`).join(", ");
  return [
    "// post_pre at small T: y = post(x, f) and the next prenorm's partials in one kernel, then kernel 2 on them. y is",
    "// written by the kernel before kernel 2, so kernel 2 reads none of it before its wait (x_early = false). The stats",
    "// row comes from these partials (pre's own split plan may differ at this T: save_stats would not match them).",
    "template <typename TR>",
    `static int launch_post_pre_small(const TR* x, const TR* f, int64_t T, int64_t C, const float* h_post, const float* h_res, ${phiParams},`,
    "    const float* alpha, const float* bias_pre, const float* bias_post, const float* bias_res, TR* y, float* h_pre_next, float* h_post_next,",
    "    float* h_res_next, TR* u_next, float* stats_next, void* workspace, cudaStream_t stream) {",
    "const mhc::PrenormSplit plan = split_plan_small(T, C);",
    "float* proj_part = static_cast<float*>(workspace);",
    "float* ss_part = reinterpret_cast<float*>(static_cast<char*>(workspace) + mhc::prenorm_proj_bytes(T, plan.splits, K));",
    phiConstruction(plan),
    "int st = launch_small_prenorm<TR, true>(x, f, h_post, h_res, y, T, C, plan, phi, proj_part, ss_part, stream);",
    "if (st != MHC_OK) return st;",
    "st = launch_coefficients<TR>(y, T, C, plan.splits, proj_part, ss_part, alpha, bias_pre, bias_post, bias_res, h_pre_next, h_post_next, h_res_next, u_next, false, stream);",
    "if (st != MHC_OK || stats_next == nullptr) return st;",
    `mhc::stats_kernel<<<mhc::grid_for(T * (K + 1), ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(proj_part, ss_part, T, K, plan.splits, stats_next);`,
    "return cuda_status(cudaGetLastError());",
    "}",
  ];
}

/**
 * The end of a workspace-size function: `other` (the tiled kernels' bytes), or the small-T plan's where the call
 * takes it (`takes`: small_prenorm for pre, small_post_pre for post_pre) and they are larger.
 */
export function smallWorkspaceLines(plan: ConnectionPlan, takes: "small_prenorm" | "small_post_pre", other: string): string[] {
  if (!smallPrenormConfig(plan)) return [`return ${other};`];
  return [
    `if (!${takes}(T)) return ${other};`,
    "const size_t small = mhc::prenorm_workspace_bytes(T, split_plan_small(T, C).splits, K);",
    `return small > ${other} ? small : ${other};`,
  ];
}

/** `Phi phi{..}` over the phi_<slot> pointers in scope (with the 16-byte alignment test where every map's width allows quads). */
export function phiConstruction(plan: ConnectionPlan): string {
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const ptrs = withProj.map((s) => `phi_${s}`).join(", ");
  return withProj.every((s) => plan.maps[s].width % 4 === 0) ? `Phi phi{${ptrs}, ${withProj.map((s) => `mhc::aligned(phi_${s}, 16)`).join(" && ")}};` : `Phi phi{${ptrs}};`;
}

/** manifest.json: the small-T kernel's entry in `kernels` (none where the connection has no small-T path). */
export function smallPrenormManifest(plan: ConnectionPlan): Record<string, unknown>[] {
  const c = smallPrenormConfig(plan);
  if (!c) return [];
  return [
    {
      name: "small_prenorm_kernel",
      item: 1,
      alsoItem: 4,
      dtype: "bf16, f32",
      threads: BLOCK_THREADS,
      whenTokensAtMost: c.maxT,
      postPreWhenTokensAtMost: c.postPreMaxT,
      tile: { tokens: c.tokens, maxChannelsPerSplit: c.maxChunk },
      grid: `[ceil(T / tokens), S], S = ceil(C / chunk) ranges of chunk channels of all n streams, chunk = clamp(roundup8(ceil(C / max(1, floor(${FILL_BLOCKS} / ceil(T / tokens))))), 8, ${c.maxChunk})`,
      sharedMemoryBudget: SMALL_PRENORM_SMEM_BYTES,
    },
  ];
}
