/**
 * A plain-loop float64 implementation of design.md §1, written independently of
 * the compiler (no IR, no lowering), to check the compiler's graphs against.
 * Matrices are row-major number[][]; H_res is indexed [out][in].
 */

export type Matrix = number[][];

export function softmaxCols(L: Matrix): Matrix {
  const n = L.length;
  const m = L[0]!.length;
  const out = L.map((row) => row.slice());
  for (let j = 0; j < m; j++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, L[i]![j]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(L[i]![j]! - max);
    for (let i = 0; i < n; i++) out[i]![j] = Math.exp(L[i]![j]! - max) / sum;
  }
  return out;
}

/** The prelude's `sinkhorn`, exactly as design.md §1 writes it. */
export function sinkhorn(L: Matrix, iters = 20, eps = 1e-6): Matrix {
  let M = softmaxCols(L).map((row) => row.map((v) => v + eps));
  const rowNormalise = () => {
    M = M.map((row) => {
      const s = row.reduce((a, b) => a + b, 0);
      return row.map((v) => v / (s + eps));
    });
  };
  const colNormalise = () => {
    const sums = M[0]!.map((_, j) => M.reduce((a, row) => a + row[j]!, 0));
    M = M.map((row) => row.map((v, j) => v / (sums[j]! + eps)));
  };
  rowNormalise();
  for (let k = 0; k < iters - 1; k++) {
    colNormalise();
    rowNormalise();
  }
  return M;
}

export const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

export interface ReferenceWeights {
  /** [n*C][k] for flat projections. */
  readonly phi_pre: Matrix;
  readonly phi_post: Matrix;
  readonly phi_res: Matrix;
  readonly alpha: readonly [number, number, number];
  readonly bias_pre: readonly number[];
  readonly bias_post: readonly number[];
  readonly bias_res: readonly number[];
}

export interface ReferenceOutput {
  readonly y: number[][][];
  readonly u: number[][];
  readonly H_pre: number[][];
  readonly H_post: number[][];
  readonly H_res: number[][][];
}

/**
 * One mHC sublayer with identity F (the prelude's `mhc`: rms norm over n*C,
 * flat projections, pre = sigmoid + 1e-6, post = 2 sigmoid, res = sinkhorn).
 */
export function mhcSublayer(x: number[][][], w: ReferenceWeights, options: { iters?: number; normEps?: number } = {}): ReferenceOutput {
  const normEps = options.normEps ?? 1e-6;
  const iters = options.iters ?? 20;
  const T = x.length;
  const n = x[0]!.length;
  const C = x[0]![0]!.length;
  const out: ReferenceOutput = { y: [], u: [], H_pre: [], H_post: [], H_res: [] };
  for (let t = 0; t < T; t++) {
    const xf = x[t]!.flat();
    const r = Math.sqrt(xf.reduce((a, v) => a + v * v, 0) / (n * C) + normEps);
    const project = (phi: Matrix, alpha: number, bias: readonly number[]) =>
      bias.map((b, k) => (alpha * xf.reduce((a, v, i) => a + v * phi[i]![k]!, 0)) / r + b);
    const pre = project(w.phi_pre, w.alpha[0], w.bias_pre).map((l) => sigmoid(l) + 1e-6);
    const post = project(w.phi_post, w.alpha[1], w.bias_post).map((l) => 2 * sigmoid(l));
    const resLogits = project(w.phi_res, w.alpha[2], w.bias_res);
    const L: Matrix = Array.from({ length: n }, (_, i) => resLogits.slice(i * n, (i + 1) * n));
    const H = sinkhorn(L, iters, 1e-6);
    const u = Array.from({ length: C }, (_, c) => pre.reduce((a, p, i) => a + p * x[t]![i]![c]!, 0));
    const y = Array.from({ length: n }, (_, j) => Array.from({ length: C }, (_, c) => H[j]!.reduce((a, h, i) => a + h * x[t]![i]![c]!, 0) + post[j]! * u[c]!));
    out.y.push(y);
    out.u.push(u);
    out.H_pre.push(pre);
    out.H_post.push(post);
    out.H_res.push(H);
  }
  return out;
}
