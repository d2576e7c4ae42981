import { spectralNorm } from "./spectral.js";

/**
 * Per-sample metrics of a batch of mixing matrices stored row-major as
 * `[count, n, n]`, indexed `[out, in]` (design.md §1): row sums are the
 * forward gain of one layer, column sums its backward gain. Non-finite values
 * propagate (a NaN matrix has a NaN error), so they cannot hide in a summary.
 */

/** Summary of per-sample values. `max`/`min` are NaN when any value is NaN. */
export interface Summary {
  readonly mean: number;
  readonly max: number;
  readonly min: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  if (values.length === 0) return { mean: NaN, max: NaN, min: NaN };
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  let nan = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) nan = true;
    sum += v;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  return { mean: sum / values.length, max: nan ? NaN : max, min: nan ? NaN : min };
}

/** Per matrix: `max_i |sum_j H[i, j] - 1|` (forward gain error). */
export function rowSumErrors(h: ArrayLike<number>, n: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let b = 0; b < count; b++) {
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += h[b * n * n + i * n + j] as number;
      const e = Math.abs(s - 1);
      worst = Number.isNaN(e) || e > worst ? e : worst;
      if (Number.isNaN(worst)) break;
    }
    out[b] = worst;
  }
  return out;
}

/** Per matrix: `max_j |sum_i H[i, j] - 1|` (backward gain error). */
export function colSumErrors(h: ArrayLike<number>, n: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let b = 0; b < count; b++) {
    let worst = 0;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += h[b * n * n + i * n + j] as number;
      const e = Math.abs(s - 1);
      worst = Number.isNaN(e) || e > worst ? e : worst;
      if (Number.isNaN(worst)) break;
    }
    out[b] = worst;
  }
  return out;
}

/** Per matrix: the largest singular value. */
export function spectralNorms(h: ArrayLike<number>, n: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let b = 0; b < count; b++) out[b] = spectralNorm(h, n, b * n * n);
  return out;
}

/** Per sample of `size` values: the Euclidean (Frobenius) norm. */
export function sampleNorms(data: ArrayLike<number>, size: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let b = 0; b < count; b++) {
    // Scaled sum of squares (as LAPACK's dnrm2) so huge gradients do not overflow to Infinity.
    let scale = 0;
    let ssq = 1;
    for (let i = 0; i < size; i++) {
      const v = Math.abs(data[b * size + i] as number);
      if (Number.isNaN(v) || v === Infinity) {
        scale = v;
        ssq = 1;
        break;
      }
      if (v === 0) continue;
      if (scale < v) {
        ssq = 1 + ssq * (scale / v) ** 2;
        scale = v;
      } else {
        ssq += (v / scale) ** 2;
      }
    }
    out[b] = scale * Math.sqrt(ssq);
  }
  return out;
}

/** How many values are NaN or infinite. */
export function countNonFinite(data: ArrayLike<number>): number {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i] as number)) bad++;
  return bad;
}

/** Smallest and largest finite value (NaN when there is none). */
export function finiteRange(data: ArrayLike<number>): { readonly min: number; readonly max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min > max ? { min: NaN, max: NaN } : { min, max };
}
