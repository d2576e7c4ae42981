/**
 * Singular values of small dense matrices (n <= 16 in the lab) by one-sided
 * Jacobi (Hestenes): plane rotations orthogonalise the columns of A; at
 * convergence the column norms are the singular values. It is slower than a
 * Golub-Kahan SVD but simple, accurate to a few ulps relative to the largest
 * singular value, and has no failure mode for rank-deficient, defective or
 * badly scaled matrices (where power iteration converges slowly or not at all).
 * The matrix is scaled by its largest entry first, so entries of 1e-300 or
 * 1e300 neither underflow nor overflow.
 */

const MAX_SWEEPS = 60;

/**
 * The singular values (descending) of the `rows x cols` row-major matrix
 * stored in `data` from `offset`. Non-finite input gives `[NaN, ...]`.
 */
export function singularValues(data: ArrayLike<number>, rows: number, cols: number = rows, offset = 0): number[] {
  let scale = 0;
  for (let i = 0; i < rows * cols; i++) {
    const v = data[offset + i] as number;
    if (!Number.isFinite(v)) return new Array<number>(Math.min(rows, cols)).fill(NaN);
    scale = Math.max(scale, Math.abs(v));
  }
  if (scale === 0) return new Array<number>(Math.min(rows, cols)).fill(0);
  // Column-major copy, scaled: each column is contiguous for the rotations.
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[j * rows + i] = (data[offset + i * cols + j] as number) / scale;

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < cols - 1; p++) {
      for (let q = p + 1; q < cols; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < rows; i++) {
          const x = a[p * rows + i]!;
          const y = a[q * rows + i]!;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= Number.EPSILON * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < rows; i++) {
          const x = a[p * rows + i]!;
          const y = a[q * rows + i]!;
          a[p * rows + i] = c * x - s * y;
          a[q * rows + i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }

  const sigma: number[] = [];
  for (let j = 0; j < cols; j++) {
    let s = 0;
    for (let i = 0; i < rows; i++) s += a[j * rows + i]! ** 2;
    sigma.push(Math.sqrt(s) * scale);
  }
  sigma.sort((x, y) => y - x);
  return sigma.slice(0, Math.min(rows, cols));
}

/** The spectral norm (largest singular value) of an `n x n` row-major matrix at `offset`. */
export function spectralNorm(data: ArrayLike<number>, n: number, offset = 0): number {
  return singularValues(data, n, n, offset)[0] ?? 0;
}
