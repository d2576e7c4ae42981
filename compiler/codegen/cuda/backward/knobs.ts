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
