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

/** Coefficient kernel: tokens per block at most (one thread each computes the constraints). */
export const COEF_MAX_TOKENS = 32;

/**
 * Coefficient kernel: shared-memory floats for the block's split-K sums (tokens x (K + 1)).
 * The tokens per block shrink so that tokens * (K + 1) fits; a K so large that one token
 * does not fit (K >= 8192) keeps the per-thread serial sum of the partials.
 */
export const COEF_SMEM_FLOATS = 8192;

/** Tokens per coefficient block for K prenorm columns, and whether the block-wide split-K sum is used. */
export function coefTokens(k: number): { readonly tokens: number; readonly blockSum: boolean } {
  if (k === 0) return { tokens: COEF_MAX_TOKENS, blockSum: false };
  const fit = Math.floor(COEF_SMEM_FLOATS / (k + 1));
  return fit >= 1 ? { tokens: Math.min(COEF_MAX_TOKENS, fit), blockSum: true } : { tokens: COEF_MAX_TOKENS, blockSum: false };
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

/** Literal tables (perms(n)) up to this many floats go to `__constant__` memory, larger ones to `__device__` memory. */
export const CONSTANT_MEMORY_MAX_FLOATS = 4096;

/** Significant digits of float literals: 9 round-trips every float32. */
export const FLOAT_DIGITS = 9;

/** The GPU architecture the build script and the nvcc tests compile for. */
export const DEFAULT_ARCH = "sm_90a";

export interface PrenormConfig {
  /** Total logits (columns) and the padded column count. */
  readonly k: number;
  readonly kp: number;
  readonly wn: number;
  readonly rn: number;
  readonly wm: number;
  readonly rm: number;
  readonly tm: number;
  readonly bk: number;
}

/**
 * The prenorm tiling for K columns: enough warps along the columns that each thread
 * holds at most PRENORM_MAX_RN of them (a multiple of 4), then as many tokens per lane
 * as the accumulator budget allows. See runtime/cuda/include/mhc_prenorm.cuh.
 */
export function prenormConfig(k: number): PrenormConfig {
  let wn = 1;
  while (wn < 8 && Math.ceil(k / wn) > PRENORM_MAX_RN) wn *= 2;
  const rn = Math.max(4, Math.ceil(Math.ceil(k / wn) / 4) * 4);
  const wm = 8 / wn;
  let rm = Math.max(1, Math.min(4, Math.floor(PRENORM_MAX_ACC / rn)));
  while (rm > 1 && wm * 32 * rm > PRENORM_MAX_TM) rm--;
  return { k, kp: wn * rn, wn, rn, wm, rm, tm: wm * 32 * rm, bk: PRENORM_BK };
}
