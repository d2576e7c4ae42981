/*
 * Tuning knobs of the CUDA backward (design.md 4.2 item 5). Like ../knobs.ts: changing one
 * changes the generated text but never the numbers beyond fp32 reassociation, and every
 * split depends only on (T, C), so workspace sizes and summation orders are the same on
 * every device and every run.
 */

/** Blocks the backward's splits aim for (two waves of an H100's 132 SMs, as the forward). */
export const BWD_TARGET_BLOCKS = 264;

/** Per-token reductions over channels (post and premix backward): the narrowest channel slice. */
export const BWD_MIN_CHANNELS = 512;

/** Prenorm backward: tokens whose loads a thread issues together, and the fewest tokens per chunk. */
export const BWD_TOKEN_TILE = 8;
export const BWD_MIN_TOKENS = 64;
/** Prenorm backward: shared memory for the double-buffered G rows of a block, and the most tokens per shared tile. */
export const BWD_SHARED_TILE_BYTES = 40 * 1024;
export const BWD_MAX_SHARED_TOKENS = 32;
/** Prenorm backward: blocks the token chunks aim for (four 256-thread blocks on each of 132 SMs). */
export const BWD_PRENORM_TARGET_BLOCKS = 528;

/** Coefficient backward: tokens per block (one thread each, one warp). */
export const BWD_COEF_TOKENS = 32;

/** Post backward: channels per thread and access at most, so n rows of x and of dy stay within 64 registers. */
export function postBackwardVector(n: number): number {
  let v = 8;
  while (v > 1 && v * n > 32) v /= 2;
  return v;
}

/** Post backward: dH rows accumulated per pass over the channels (a divisor of n; at most 4 above n = 8). */
export function postBackwardRows(n: number): number {
  const cap = n <= 8 ? n : 4;
  for (let d = cap; d >= 1; d--) if (n % d === 0) return d;
  return 1;
}

/** Prenorm backward: columns of phi and dphi a thread holds per pass (at most 32, a multiple of 4; passes of equal width). */
export function prenormBackwardColumns(k: number): number {
  const passes = Math.ceil(k / 32);
  return Math.ceil(Math.ceil(k / passes) / 4) * 4;
}

/** Prenorm backward: tokens whose G rows a block holds in shared memory (two buffers of KP floats each). */
export function prenormBackwardTokens(k: number): number {
  const kc = prenormBackwardColumns(k);
  const kp = Math.ceil(k / kc) * kc;
  const fit = Math.floor(BWD_SHARED_TILE_BYTES / (2 * kp * 4));
  return Math.max(BWD_TOKEN_TILE, Math.min(BWD_MAX_SHARED_TOKENS, fit - (fit % BWD_TOKEN_TILE)));
}

/**
 * Prenorm backward on tensor cores (runtime/cuda/include/mhc_bwd_mma.cuh), for a bf16 residual
 * with a flat projection: blocks of 128 rows of R (the n streams of bwdMmaChannels(n) channels) x
 * token tiles of BWD_MMA_TOKENS, a ring of BWD_MMA_STAGES tiles of x, dx_in or dy, du (bf16) and G,
 * s2, H_pre, H_res (fp32). Up to BWD_MMA_MAX_K columns (n <= 8); beyond that the G and phi parts
 * outgrow shared memory and the SIMT kernel runs.
 */
export const BWD_MMA_ROWS = 128;
/**
 * Rows of R a block owns, per n (the kernel's TR; TR / 16 warps, 2 TR threads): 256 for n = 3 and 4,
 * so each stream's run of channels is 128 bytes or more (a whole cache line: with 128 rows, 64-byte
 * runs at n = 4 made the kernel ~40% slower than the one-stream layout on an H100); 128 elsewhere
 * (n <= 2 already has runs of >= 128 bytes; above n = 4 the shared memory of 256 rows does not fit).
 */
export function bwdMmaRows(n: number): number {
  return n === 3 || n === 4 ? 256 : BWD_MMA_ROWS;
}
export const BWD_MMA_TOKENS = 32;
export const BWD_MMA_STAGES = 2;
export const BWD_MMA_MAX_K = 80;
/** Shared memory of an H100/H200 SM available to blocks (227 KB), and the 1 KB the driver reserves per block. */
const SM_SHARED_BYTES = 228 * 1024;
const BLOCK_RESERVED_BYTES = 1024;
/** SMs the split plans assume (as BWD_TARGET_BLOCKS). */
const PLAN_SMS = 132;

/** Channels of every stream a block of the tensor-core prenorm backward owns (mhc::BwdMmaLayout::CG): whole 16-byte runs. */
export function bwdMmaChannels(n: number): number {
  return Math.floor(bwdMmaRows(n) / n / 8) * 8;
}

/**
 * Tile columns between the starts of two streams in the x and dy tiles (mhc::bwd_mma_stream_stride):
 * where the dy mix runs on tensor cores (n divides 16, n > 1) the channels of a stream are padded so
 * that the n streams of a token fall on 16-byte units 8 / n apart and the mix's 8-row accesses are
 * free of bank conflicts; elsewhere the streams are packed.
 */
export function bwdMmaStreamStride(n: number): number {
  const cg = bwdMmaChannels(n);
  if (16 % n !== 0 || n === 1) return cg;
  let ss = cg;
  while ((ss / 8) % (16 / n) !== 8 / n) ss += 8;
  return ss;
}

/** Bytes of mhc::BwdMmaLayout<N, K, rows, BWD_MMA_TOKENS, BWD_MMA_STAGES>::BYTES (the two must agree; a static_assert checks it). */
export function bwdMmaSmemBytes(n: number, k: number): number {
  const align16 = (b: number): number => Math.ceil(b / 16) * 16;
  const kp16 = Math.ceil(k / 16) * 16;
  const rows = bwdMmaRows(n);
  const xs = (16 % n === 0 ? n * bwdMmaStreamStride(n) : rows) + 8;
  const gs = kp16 + 8;
  const tile = BWD_MMA_TOKENS * xs * 2;
  const du = BWD_MMA_TOKENS * (bwdMmaChannels(n) + 8) * 2;
  const gParts = 3 * BWD_MMA_TOKENS * gs * 2;
  const hp = align16(BWD_MMA_TOKENS * n * 4);
  const hr = align16(BWD_MMA_TOKENS * n * n * 4);
  const stage = 2 * tile + du + gParts + BWD_MMA_TOKENS * 4 + hp + hr;
  // The dy mix on tensor cores where n divides 16: per stage the tile's block-diagonal H_res^T blocks
  // (bf16 hi/lo, rows of 24).
  const mixA = 16 % n === 0 ? ((BWD_MMA_TOKENS * n) / 16) * 2 * 16 * 24 * 2 : 0;
  return BWD_MMA_STAGES * (stage + mixA) + 2 * rows * gs * 2;
}

/** The tensor-core prenorm backward's shape for (n, K), or undefined where the SIMT kernel runs. */
export function prenormBackwardMma(
  n: number,
  k: number,
): { readonly rows: number; readonly threads: number; readonly smemBytes: number; readonly blocksPerSm: number; readonly targetBlocks: number } | undefined {
  if (k < 1 || k > BWD_MMA_MAX_K || bwdMmaChannels(n) < 8) return undefined;
  const rows = bwdMmaRows(n);
  const smemBytes = bwdMmaSmemBytes(n, k);
  // 128 registers a thread: two blocks of 256 threads fill the register file, as does one of 512.
  const blocksPerSm = Math.min(rows === 256 ? 1 : 2, Math.floor(SM_SHARED_BYTES / (smemBytes + BLOCK_RESERVED_BYTES)));
  if (blocksPerSm < 1) return undefined;
  return { rows, threads: 2 * rows, smemBytes, blocksPerSm, targetBlocks: blocksPerSm * PLAN_SMS };
}
