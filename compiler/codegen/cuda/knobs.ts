/*
 * Every tuning knob of the CUDA target in one place. Changing one changes the
 * generated text (goldens) but never the numbers beyond fp32 reassociation.
 */

/** Threads of every generated block (the runtime kernels assume 256). */
export const BLOCK_THREADS = 256;

/**
 * Blocks the split-K plans aim for: two waves of an H100's 132 SMs. A constant, not a
 * device query, so that the workspace size is a pure function of (T, C) and identical
 * on every device (the C ABI promises that).
 */
export const TARGET_BLOCKS = 264;

/** Prenorm GEMM: reduction rows per shared-memory step, and the fewest steps a split may get. */
export const PRENORM_BK = 16;
export const PRENORM_MIN_STEPS = 8;
/** Prenorm GEMM: columns per thread at most before more warps share the columns, accumulators per thread at most, tokens per block at most. */
export const PRENORM_MAX_RN = 12;
export const PRENORM_MAX_ACC = 48;
export const PRENORM_MAX_TM = 512;

/**
 * Post kernel: tokens per block grow (up to mhc_mix.cuh POST_MAX_TOKENS) while the grid keeps at
 * least POST_WAVES * TARGET_BLOCKS blocks: fewer coefficient stagings at large T, every SM busy at small T.
 */
export const POST_WAVES = 4;

/**
 * Programmatic dependent launch (runtime/cuda/include/mhc_pdl.cuh): the coefficient and post kernels
 * are launched so that their blocks may start while the kernel before them in the stream runs, and
 * wait for its end before their first read: the launch and block start-up of a kernel overlap the
 * kernel before it. H200, decode T = 16 C = 4096 n = 4 (CUDA graph, one run): pre + post 16.2 us
 * overlapped, 17.1 us not. false: ordinary launches (same results, bit for bit).
 */
export const OVERLAP_LAUNCHES = true;
/**
 * Overlapped launches only for a grid of at most this many blocks (256 threads each), which an
 * H100 or H200 holds all at once: its early blocks then take no slots that later waves of the
 * kernel before it need. Measured on an H200: decode (32-block grids) gained, while at T = 8192
 * (coefficient grid 512 blocks, post 4096) overlapping made pre + post 9% slower.
 */
export const OVERLAP_MAX_BLOCKS = TARGET_BLOCKS;

/**
 * The prenorm GEMM is launched overlapped too (its blocks wait for the kernel before it, typically the
 * previous sublayer's post, before their first read) when its grid has at most this many blocks: one
 * wave of one block per SM (an H100 has 132 SMs), the latency-bound small-T case. H100, CUDA graph: decode T = 16
 * C = 4096 n = 4 (grid 128) pre + post 15.1 us overlapped against 15.5 not; T = 8192 C = 7168 n = 4 (grid 256)
 * 0.789 ms overlapped against 0.782 not, so larger grids are launched plainly. 0: never.
 */
export const OVERLAP_GEMM_MAX_BLOCKS = 132;

/** Coefficient kernel: tokens per block at most (one thread of warp 0 each computes the constraints). */
export const COEF_MAX_TOKENS = 32;

/**
 * Coefficient kernel: shared-memory floats for the block's split-K sums (tokens x (K + 1)).
 * The tokens per block shrink so that tokens * (K + 1) fits (K <= 16 + 16 + 256 at n <= 16).
 */
export const COEF_SMEM_FLOATS = 8192;

/**
 * Coefficient kernel: from this stream count on, the res map's constraint runs on a group of n lanes
 * per token (emit-constraint-lanes.ts; lane r owns row r of every n x n value, reductions across the
 * group by warp shuffles) instead of one thread per token, when n is a power of two and the lane
 * emitter has a form for every node of the graph (else the per-thread function, as below n). One
 * thread per token holds its n x n arrays in registers up to n = 8 (64 floats, within UNROLL_LIMIT),
 * but runs the whole map serially; at n = 16 the arrays (256 floats) go to local memory. At n = 4 the
 * Sinkhorn is the decode step's critical path: with full-range divisions the 4-lane groups were
 * faster (H100, T = 16, C = 4096, CUDA graph: 15.2 -> 13.0 us), but once the row and column sums are
 * proven normal and inverted by one instruction (normal-divisors.ts) a single thread is: 11.1-11.3 us
 * on lanes against 10.9-11.0 us per thread (same H100, three alternating rounds; 11.9 us before).
 * The group's shuffles (two butterfly levels per column sum) now cost more than the serial thread's
 * extra additions; prefill is bound by the pre-mix's bytes either way (0.765 ms at C = 7168).
 */
export const COEF_LANE_GROUP_MIN_N = 8;

/**
 * Lane-group constraint code: a value replicated on every lane of the group (vectors, scalars,
 * column sums) holds at most this many floats; a larger one must be distributed or the graph keeps
 * its per-thread function.
 */
export const LANE_REP_MAX_FLOATS = 32;

/** Tokens per coefficient block for K prenorm columns; blockSum: the block sums split-K partials (K > 0). */
export function coefTokens(k: number): { readonly tokens: number; readonly blockSum: boolean } {
  if (k === 0) return { tokens: COEF_MAX_TOKENS, blockSum: false };
  const fit = Math.floor(COEF_SMEM_FLOATS / (k + 1));
  if (fit < 1) throw new Error(`coefficient kernel: ${k} prenorm columns do not fit its shared memory`);
  return { tokens: Math.min(COEF_MAX_TOKENS, fit), blockSum: true };
}

/**
 * Prenorm split-K, small T: the SMs the split count must still fill (an H100 has 132), and
 * the cap on the partial traffic: the fp32 partials (written once, read once) at most
 * 1 / PRENORM_TRAFFIC_DIV of the bytes the GEMM reads (x at 2 bytes an element, phi at 4).
 */
export const FILL_BLOCKS = 132;
export const PRENORM_TRAFFIC_DIV = 4;

/**
 * Constraint functions: a node whose loops run at most this many iterations is fully
 * unrolled (`#pragma unroll`), so its arrays live in registers (n <= 8 matrices); an
 * array with more elements (n = 16 matrices) lives in local memory, in a pool of
 * buffers reused across nodes, and its loops are left rolled. This bounds nvcc's time
 * (a fully unrolled 20-iteration Sinkhorn at n = 16 took ptxas ten minutes).
 */
export const UNROLL_LIMIT = 128;

/**
 * Forward constraint functions: a run of nodes repeated at least REROLL_MIN_REPEATS times (a source
 * `repeat` the IR unrolled; bodies of at most REROLL_MAX_PERIOD nodes, every array in registers) is
 * emitted as one rolled loop (reroll.ts). The per-token constraint runs on one thread; unrolled, a
 * 20-iteration Sinkhorn at n = 4 is ~80 KB of straight-line code per kernel, paced by instruction fetch.
 */
export const REROLL_MIN_REPEATS = 3;
export const REROLL_MAX_PERIOD = 64;

/** Literal tables (perms(n)) up to this many floats go to `__constant__` memory, larger ones to `__device__` memory. */
export const CONSTANT_MEMORY_MAX_FLOATS = 4096;

/** Significant digits of float literals: 9 round-trips every float32. */
export const FLOAT_DIGITS = 9;

/** The GPU architecture the build script and the nvcc tests compile for. */
export const DEFAULT_ARCH = "sm_90a";

/**
 * Split-K planner (mhc_prenorm.cuh prenorm_split): the modelled fixed cost of a block, in
 * BK-row steps (pipeline fill, partial stores), against which more splits must pay off.
 */
export const PRENORM_SPLIT_OVERHEAD_STEPS = 2;

/**
 * Prenorm GEMM on tensor cores for a bf16 residual (runtime/cuda/include/mhc_mma.cuh:
 * mma.sync m16n8k16 bf16 with fp32 accumulation, phi split into PRENORM_PHI_PARTS bf16 terms,
 * each BK-row step accumulated in a fresh fragment). false: every connection gets the SIMT
 * fp32 kernel (mhc_prenorm.cuh prenorm_kernel). An fp32 residual always runs the SIMT kernel.
 */
export const PRENORM_TENSOR_CORES = true;
/**
 * bf16 terms phi is split into: 3 leave |phi - sum| <= 2^-27 |phi| (below fp32 rounding), 2 leave
 * 2^-18. Measured on an H100 over the 405 verification cases (bf16 residual): coefficient errors
 * up to 4.5e-7 relative with 3 parts, 4.7e-6 with 2 (only 2x inside the 1e-5 bound); 2 parts make
 * the prenorm GEMM 7-30% faster (n = 4: 201 instead of 216 us, n = 8: 483 instead of 568, n = 16:
 * 5.2 instead of 6.2 ms at T = 8192). Accuracy first: 3.
 */
export const PRENORM_PHI_PARTS = 3;
/**
 * Tensor-core prenorm: n8 column tiles per warp at most, accumulators per thread at most, m16 tiles
 * per warp at most, tokens per block at most. Wide K (n = 16: 288 columns) reads far more phi than
 * x per token, and each block reads all of phi once: the accumulator budget lets such a block take
 * 128 tokens (144 accumulators, one block of 255-register threads per SM) instead of 64, halving
 * the phi bytes per token. The token cap keeps n = 4 and n = 8 at their measured tiles (256 tokens,
 * measured on an H100 with phi pre-split: n = 4 prenorm 286 instead of 197 us at C = 7168, n = 8
 * 491 instead of 474 at C = 4096).
 */
export const PRENORM_MMA_MAX_NT = 10;
export const PRENORM_MMA_MAX_ACC = 144;
export const PRENORM_MMA_MAX_MT = 4;
export const PRENORM_MMA_MAX_TM = 128;
/** Tensor-core prenorm: reduction rows per step and ring depths tried; each split walks at least MIN_STEPS steps. */
export const PRENORM_MMA_BKS: readonly number[] = [64, 32];
export const PRENORM_MMA_STAGES: readonly number[] = [4, 3, 2];
export const PRENORM_MMA_MIN_STEPS = 2;
/**
 * Dynamic shared memory of one tensor-core prenorm block: at most this much to keep two blocks
 * on an SM (an H100 SM has 228 KB, 1 KB of it reserved per block), else at most the one-block limit.
 */
export const PRENORM_MMA_SMEM_TWO_BLOCKS = 113 * 1024;
export const PRENORM_MMA_SMEM_ONE_BLOCK = 227 * 1024;
/**
 * Two blocks per SM cap a thread at 128 registers: allowed only while the big per-thread arrays
 * (accumulators, the step's A fragments) take at most this many, which leaves the rest for
 * addresses and temporaries (n = 4 and 8 fit, n = 16 does not).
 */
export const PRENORM_MMA_TWO_BLOCK_ARRAY_REGS = 64;
/**
 * Tensor-core prenorm with phi split once per call (mhc_mma.cuh split_phi_kernel, PRESPLIT) when the
 * GEMM has at least this many token tiles: below it every block splits its own steps of phi, which
 * costs no extra launch (decode: one tile) and repeats the split only a few times.
 */
export const PRENORM_MMA_PRESPLIT_MIN_TILES = 8;

export interface PrenormConfig {
  /** Total logits (columns) and the padded column count. */
  readonly k: number;
  readonly kp: number;
  /** Warps along the columns; columns per warp lane group (SIMT: per lane; MMA: per warp, nt * 8). */
  readonly wn: number;
  readonly rn: number;
  /** Warps along the tokens; tokens per lane (SIMT) or per warp (MMA: mt * 16). */
  readonly wm: number;
  readonly rm: number;
  readonly tm: number;
  readonly bk: number;
  /** Each split walks at least this many BK-row steps. */
  readonly minSteps: number;
  /** Blocks an SM holds (the kernel's __launch_bounds__ minimum); the split planner's slots are this times FILL_BLOCKS. */
  readonly blocksPerSm: number;
  /** true: the tensor-core kernel prenorm_mma_kernel with mt m16 x nt n8 tiles per warp. */
  readonly mma: boolean;
  readonly mt: number;
  readonly nt: number;
  /** MMA: shared-memory ring depth, bf16 parts of phi, dynamic shared memory bytes (0 for SIMT). */
  readonly stages: number;
  readonly parts: number;
  readonly smemBytes: number;
  /** MMA with phi split once per call (PRESPLIT): the ring depth and dynamic shared memory at the same tile and BK; 0 stages where no ring fits. */
  readonly presplitStages: number;
  readonly presplitSmemBytes: number;
}

/**
 * The SIMT prenorm tiling for K columns: enough warps along the columns that each thread
 * holds at most PRENORM_MAX_RN of them (a multiple of 4), then as many tokens per lane
 * as the accumulator budget allows. See runtime/cuda/include/mhc_prenorm.cuh.
 */
export function prenormSimtConfig(k: number): PrenormConfig {
  let wn = 1;
  while (wn < 8 && Math.ceil(k / wn) > PRENORM_MAX_RN) wn *= 2;
  const rn = Math.max(4, Math.ceil(Math.ceil(k / wn) / 4) * 4);
  const wm = 8 / wn;
  let rm = Math.max(1, Math.min(4, Math.floor(PRENORM_MAX_ACC / rn)));
  while (rm > 1 && wm * 32 * rm > PRENORM_MAX_TM) rm--;
  return { k, kp: wn * rn, wn, rn, wm, rm, tm: wm * 32 * rm, bk: PRENORM_BK, minSteps: PRENORM_MIN_STEPS, blocksPerSm: 2, mma: false, mt: 0, nt: 0, stages: 0, parts: 0, smemBytes: 0, presplitStages: 0, presplitSmemBytes: 0 };
}

/** a > b in lexicographic order. */
function lexGreater(a: readonly number[], b: readonly number[]): boolean {
  const i = a.findIndex((v, j) => v !== b[j]);
  return i >= 0 && (a[i] as number) > (b[i] as number);
}

/** Row stride of the phi parts in shared memory (mhc_mma.cuh mma_phi_stride). */
const mmaPhiStride = (kp: number): number => (kp % 16 === 0 ? kp + 8 : kp);

/** Dynamic shared memory of prenorm_mma_kernel (mhc_mma.cuh mma_smem_bytes): the ring of x and raw phi tiles, one set of phi parts. */
export function mmaSmemBytes(tm: number, kp: number, bk: number, stages: number, parts: number): number {
  return stages * (tm * (bk + 8) * 2 + bk * kp * 4) + parts * bk * mmaPhiStride(kp) * 2;
}

/** The same with phi split once per call (mhc_mma.cuh mma_presplit_smem_bytes): a ring of x tiles and phi parts. */
export function mmaPresplitSmemBytes(tm: number, kp: number, bk: number, stages: number, parts: number): number {
  return stages * (tm * (bk + 8) * 2 + parts * bk * mmaPhiStride(kp) * 2);
}

/**
 * The tensor-core prenorm tiling for K columns, or undefined where it does not fit (then the
 * SIMT kernel). Warp layout: for each split of the 8 warps into WM x WN, NT = ceil(tiles / WN)
 * n8 tiles per warp (at most PRENORM_MMA_MAX_NT), then m16 tiles per warp while the
 * accumulators and the block's tokens allow; the layout with the fewest padded columns (MMA
 * work) wins, then the one whose warps read the fewest fragment bytes from shared memory per
 * token (each warp reads B for its NT tiles and PARTS terms, A for its MT tiles). Ring: two
 * blocks per SM if some ring fits their shared memory and registers, else one, the (BK, stages)
 * with at least three stages if possible and the most x bytes in flight ((stages - 1) * tokens
 * * BK). See runtime/cuda/include/mhc_mma.cuh.
 */
export function prenormMmaConfig(k: number, parts: number = PRENORM_PHI_PARTS): PrenormConfig | undefined {
  const tiles = Math.ceil(k / 8);
  let layout: { wn: number; nt: number; wm: number; mt: number; tm: number; kp: number; score: number[] } | undefined;
  for (const wn of [1, 2, 4, 8]) {
    const nt = Math.ceil(tiles / wn);
    if (nt > PRENORM_MMA_MAX_NT) continue;
    const wm = 8 / wn;
    let mt = Math.max(1, Math.min(PRENORM_MMA_MAX_MT, Math.floor(PRENORM_MMA_MAX_ACC / (nt * 4))));
    while (mt > 1 && wm * 16 * mt > PRENORM_MMA_MAX_TM) mt--;
    const tm = wm * 16 * mt;
    const kp = wn * nt * 8;
    // Fragment bytes per token and k16 step: 8 warps x (NT tiles x PARTS x 256 bytes of B + MT x 512 bytes of A) / TM.
    const fragmentBytes = (8 * (nt * parts * 256 + mt * 512)) / tm;
    const score = [-kp, -fragmentBytes, tm];
    if (!layout || lexGreater(score, layout.score)) layout = { wn, nt, wm, mt, tm, kp, score };
  }
  if (!layout) return undefined;
  const { wn, nt, wm, mt, tm, kp } = layout;
  // Registers of the per-thread arrays at step depth bk: accumulators and the step's A fragments.
  const arrayRegs = (bk: number): number => mt * nt * 4 + (bk / 16) * mt * 4;
  for (const [blocksPerSm, budget] of [
    [2, PRENORM_MMA_SMEM_TWO_BLOCKS],
    [1, PRENORM_MMA_SMEM_ONE_BLOCK],
  ] as const) {
    let best: { bk: number; stages: number; score: [number, number, number] } | undefined;
    for (const bk of PRENORM_MMA_BKS) {
      if (blocksPerSm === 2 && arrayRegs(bk) > PRENORM_MMA_TWO_BLOCK_ARRAY_REGS) continue;
      for (const stages of PRENORM_MMA_STAGES) {
        if (mmaSmemBytes(tm, kp, bk, stages, parts) > budget) continue;
        const score: [number, number, number] = [stages >= 3 ? 1 : 0, (stages - 1) * tm * bk, bk];
        if (!best || lexGreater(score, best.score)) best = { bk, stages, score };
      }
    }
    if (best) {
      const bk = best.bk;
      const smemBytes = mmaSmemBytes(tm, kp, bk, best.stages, parts);
      // The pre-split ring: the deepest that fits the same budget (same tile, BK and blocks per SM).
      const presplitStages = PRENORM_MMA_STAGES.find((st) => mmaPresplitSmemBytes(tm, kp, bk, st, parts) <= budget) ?? 0;
      const presplitSmemBytes = presplitStages > 0 ? mmaPresplitSmemBytes(tm, kp, bk, presplitStages, parts) : 0;
      return { k, kp, wn, rn: nt * 8, wm, rm: mt * 16, tm, bk, minSteps: PRENORM_MMA_MIN_STEPS, blocksPerSm, mma: true, mt, nt, stages: best.stages, parts, smemBytes, presplitStages, presplitSmemBytes };
    }
  }
  return undefined;
}

/** The prenorm tiling for K columns: tensor cores where PRENORM_TENSOR_CORES and the tile fits, else SIMT. */
export function prenormConfig(k: number): PrenormConfig {
  return (PRENORM_TENSOR_CORES ? prenormMmaConfig(k) : undefined) ?? prenormSimtConfig(k);
}

/**
 * Small-T prenorm (runtime/cuda/include/mhc_small_prenorm.cuh, small-prenorm.ts): up to SMALL_PRENORM_MAX_T
 * tokens pre's GEMM, and up to SMALL_POST_PRE_MAX_T post_pre's post and GEMM together, run as one round of
 * loads and 16-token tiles of tf32 MMAs per block, instead of the tiled kernels (and, in post_pre, the post
 * kernel before them), whose pipelines and bf16 phi split pay at many tokens. H100, n = 4, C = 4096, CUDA
 * graph, alternating rounds on one machine (bench/results/cuda-decode-small-prenorm-h100-2026-11-26.json),
 * per sublayer of a stack through post_pre against the tiled kernels: T = 16 10.01-10.09 -> 9.06-9.07 us,
 * 32: 12.78 -> 11.09-11.11, 48: 13.33-13.36 -> 11.86-11.92, 64 (with SMALL_KERNEL_CARVEOUT): 13.97-14.09 ->
 * 12.98-13.43; one pre + post: T = 1 9.44-9.48 -> 9.23-9.47, 16: within the machine's spread (11.2-12.1 both),
 * 32: 13.7-14.1 -> 13.2-13.7, 48: 14.3 -> 14.4-14.9, and at 64 the small kernel alone was slower than the tiled
 * one (one pre + post 15.9-16.3 against 15.2-15.3; a stack through pre + post 14.35-14.39 against 14.03-14.13):
 * pre stops at 48, post_pre (which also saves the post's kernel) at 64. 0: never.
 */
export const SMALL_PRENORM_MAX_T = 48;
export const SMALL_POST_PRE_MAX_T = 64;

/**
 * Preferred shared-memory carveout (percent) of the small-T prenorm and coefficient kernels
 * (mhc_launch.cuh prefer_carveout); 0: the driver's default. A kernel with much shared memory before them
 * (the tiled prenorm GEMM, ~110 KB a block) left the SMs configured for it, and these latency-bound kernels
 * then ran ~2.3 us slower each: H100, a T = 64 stack through post_pre whose first kernel is the tiled GEMM,
 * 15.08-15.19 us a sublayer without the hint, 13.27-13.43 with it. Prefill with / without it: 0.767 / 0.766 ms
 * (C = 7168), 0.448 / 0.448 (C = 4096), n = 8 1.116 / 1.110, n = 16 4.648 / 4.649 ms (scripts/gpu/README.md).
 */
export const SMALL_KERNEL_CARVEOUT = 50;

/**
 * Small-T prenorm: dynamic shared memory a block may use for its split's phi rows and x values; it
 * bounds the channels per split (a connection whose 8-channel split does not fit, e.g. n = 16 with 288
 * columns, has no small-T path).
 */
export const SMALL_PRENORM_SMEM_BYTES = 100 * 1024;
