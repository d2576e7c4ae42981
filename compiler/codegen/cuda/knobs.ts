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

/**
 * Prenorm GEMM on tensor cores (runtime/cuda/include/mhc_mma.cuh: mma.sync m16n8k8 TF32, phi
 * split into hi + lo TF32 halves, 3xTF32 for fp32 x). false: every connection gets the SIMT
 * fp32 kernel (mhc_prenorm.cuh prenorm_kernel), the path before tensor cores.
 *
 * Off by default: on an H100 it cut the n = 4 prefill forward from 1.51 to 1.10 ms, but 5
 * of 384 verification cases (the largest T x C, bf16) had coefficient errors of 1.2e-5 to
 * 2.2e-5 relative to float64, over the 1e-5 bound (bench/results/cuda-forward-h100-2026-11-25-tf32.json).
 */
export const PRENORM_TENSOR_CORES = false;
/**
 * Tensor-core prenorm for an fp32 residual too (3xTF32). false (the default): an fp32 x runs the
 * SIMT kernel with the same split-K plan (the same workspace); measured on an H200, 3xTF32 reached
 * 1.06e-5 relative on H_pre at n = 16, T = 1023, C = 4096 (tolerance 1e-5): the MMA's fp32
 * accumulation over long chunks loses a little more than the SIMT FMAs.
 */
export const PRENORM_MMA_F32 = false;
/** Tensor-core prenorm: n8 column tiles per warp at most, accumulators per thread at most, tokens per block at most. */
export const PRENORM_MMA_MAX_NT = 9;
export const PRENORM_MMA_MAX_ACC = 72;
export const PRENORM_MMA_MAX_TM = 128;
/** Tensor-core prenorm: reduction rows per step, tried largest first, and the static shared memory a block may take. */
export const PRENORM_MMA_BKS: readonly number[] = [32, 16];
export const PRENORM_MMA_SMEM_BYTES = 46 * 1024;

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
  /** true: the tensor-core kernel prenorm_mma_kernel with mt m16 x nt n8 tiles per warp. */
  readonly mma: boolean;
  readonly mt: number;
  readonly nt: number;
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
  return { k, kp: wn * rn, wn, rn, wm, rm, tm: wm * 32 * rm, bk: PRENORM_BK, mma: false, mt: 0, nt: 0 };
}

/**
 * The tensor-core prenorm tiling for K columns, or undefined where it does not fit (then the
 * SIMT kernel): the fewest warps along the columns that leave each warp at most
 * PRENORM_MMA_MAX_NT n8 tiles, then m16 tiles per warp while the accumulators and the block's
 * tokens allow, then the deepest BK whose shared memory (x fp32 [tm][bk + 4], phi hi and lo
 * [bk][kp (+8)]) fits. See runtime/cuda/include/mhc_mma.cuh.
 */
export function prenormMmaConfig(k: number): PrenormConfig | undefined {
  const tiles = Math.ceil(k / 8);
  let wn = 1;
  while (wn < 8 && Math.ceil(tiles / wn) > PRENORM_MMA_MAX_NT) wn *= 2;
  const nt = Math.ceil(tiles / wn);
  if (nt > PRENORM_MMA_MAX_NT) return undefined;
  const wm = 8 / wn;
  let mt = Math.max(1, Math.min(4, Math.floor(PRENORM_MMA_MAX_ACC / (nt * 4))));
  while (mt > 1 && wm * 16 * mt > PRENORM_MMA_MAX_TM) mt--;
  const tm = wm * 16 * mt;
  const kp = wn * nt * 8;
  const ps = kp % 16 === 0 ? kp + 8 : kp;
  const bk = PRENORM_MMA_BKS.find((b) => 4 * (tm * (b + 4) + 2 * b * ps) <= PRENORM_MMA_SMEM_BYTES);
  if (bk === undefined) return undefined;
  return { k, kp, wn, rn: nt * 8, wm, rm: mt * 16, tm, bk, mma: true, mt, nt };
}

/** The prenorm tiling for K columns: tensor cores where PRENORM_TENSOR_CORES and the tile fits, else SIMT. */
export function prenormConfig(k: number): PrenormConfig {
  return (PRENORM_TENSOR_CORES ? prenormMmaConfig(k) : undefined) ?? prenormSimtConfig(k);
}
