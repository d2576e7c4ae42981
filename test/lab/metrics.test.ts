import { describe, expect, it } from "vitest";
import { compositeGain, logMeanExp } from "../../compiler/lab/composite-gain.js";
import { colSumErrors, countNonFinite, finiteRange, rowSumErrors, sampleNorms, spectralNorms, summarize } from "../../compiler/lab/metrics.js";
import { Rng, gaussianStream, streamSeed, unitDirections } from "../../compiler/lab/sampling.js";
import { singularValues, spectralNorm } from "../../compiler/lab/spectral.js";

const eye = (n: number): number[] => Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
/** The permutation matrix with a 1 at [i, perm[i]]. */
const permutation = (perm: readonly number[]): number[] => perm.flatMap((p) => perm.map((_, j) => (j === p ? 1 : 0)));
const uniform = (n: number): number[] => new Array<number>(n * n).fill(1 / n);
/** Repeats one matrix `times` times into a batch. */
const batch = (m: readonly number[], times: number): Float64Array => Float64Array.from(Array.from({ length: times }, () => m).flat());

describe("row and column sum errors", () => {
  it("are zero for the identity, permutations and the uniform matrix", () => {
    for (const m of [eye(4), permutation([2, 0, 3, 1]), uniform(4), uniform(3).slice(0, 9)]) {
      const n = Math.round(Math.sqrt(m.length));
      expect(Math.max(...rowSumErrors(m, n, 1))).toBeLessThan(1e-15);
      expect(Math.max(...colSumErrors(m, n, 1))).toBeLessThan(1e-15);
    }
  });

  it("tell rows [out] from columns [in]: a row-stochastic matrix has only a column error", () => {
    // Every row sums to 1; column sums are 2, 0 (all the mass goes to input stream 0).
    const m = [1, 0, 1, 0];
    expect(Array.from(rowSumErrors(m, 2, 1))).toEqual([0]);
    expect(Array.from(colSumErrors(m, 2, 1))).toEqual([1]);
  });

  it("are per matrix and propagate NaN", () => {
    const data = [...eye(2), 0.5, 0.5, 0.5, 0.7, NaN, 0, 0, 1];
    expect(Array.from(rowSumErrors(data, 2, 3)).map((v) => (Number.isNaN(v) ? "NaN" : Number(v.toFixed(12))))).toEqual([0, 0.2, "NaN"]);
    expect(summarize(rowSumErrors(data, 2, 3)).max).toBeNaN();
    expect(countNonFinite(data)).toBe(1);
    expect(finiteRange(data)).toEqual({ min: 0, max: 1 });
  });
});

describe("spectral norm", () => {
  it("is 1 for the identity, permutations and doubly stochastic matrices", () => {
    expect(spectralNorm(eye(5), 5)).toBeCloseTo(1, 14);
    expect(spectralNorm(permutation([3, 1, 0, 2]), 4)).toBeCloseTo(1, 14);
    expect(spectralNorm(uniform(4), 4)).toBeCloseTo(1, 14);
    // A rank-deficient doubly stochastic matrix: singular values 1 and 0.
    expect(singularValues(uniform(2), 2)).toEqual([expect.closeTo(1, 14), expect.closeTo(0, 14)]);
  });

  it("is |u| |v| for the rank-one matrix u v^T", () => {
    const u = [1, -2, 3, 0.5];
    const v = [2, 0, -1, 4];
    const m = u.flatMap((a) => v.map((b) => a * b));
    const expected = Math.hypot(...u) * Math.hypot(...v);
    expect(spectralNorm(m, 4)).toBeCloseTo(expected, 12);
    expect(singularValues(m, 4).slice(1).every((s) => s < 1e-12 * expected)).toBe(true);
  });

  it("matches the diagonal of a diagonal matrix and survives extreme scales", () => {
    expect(singularValues([3, 0, 0, 0, -7, 0, 0, 0, 0.5], 3)).toEqual([expect.closeTo(7, 13), expect.closeTo(3, 13), expect.closeTo(0.5, 13)]);
    expect(spectralNorm([1e300, 0, 0, 1e300], 2) / 1e300).toBeCloseTo(1, 12);
    expect(spectralNorm([1e-300, 0, 0, 0], 2) / 1e-300).toBeCloseTo(1, 12);
    expect(spectralNorm([NaN, 0, 0, 1], 2)).toBeNaN();
  });

  it("agrees with the power method on a non-symmetric 16 x 16 matrix", () => {
    const n = 16;
    const a = gaussianStream(n * n, 3, "spectral-test");
    // Power iteration on A^T A, many steps: the reference.
    let x = new Float64Array(n).fill(1);
    for (let it = 0; it < 5000; it++) {
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) y[i] = y[i]! + a[i * n + j]! * x[j]!;
      const z = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) z[j] = z[j]! + a[i * n + j]! * y[i]!;
      const norm = Math.hypot(...z);
      x = z.map((v) => v / norm);
    }
    const ax = Array.from({ length: n }, (_, i) => x.reduce((s, xj, j) => s + a[i * n + j]! * xj, 0));
    expect(spectralNorm(a, n)).toBeCloseTo(Math.hypot(...ax), 9);
    expect(Array.from(spectralNorms(batch(Array.from(a), 2), n, 2))).toEqual([spectralNorm(a, n), spectralNorm(a, n)]);
  });
});

describe("composite gain", () => {
  it("is exactly 1 at every depth for chains of permutations and doubly stochastic matrices", () => {
    const layers = [permutation([1, 2, 0]), uniform(3), permutation([2, 1, 0]), eye(3)];
    const g = compositeGain(Float64Array.from(layers.flat()), 3, 1, 4);
    for (const v of [...g.forwardCurve, ...g.backwardCurve]) expect(v).toBeCloseTo(1, 14);
  });

  it("uses the row sums for the forward gain and the column sums for the backward gain", () => {
    // H = [[1, 1], [0, 0]]: row sums 2, 0; column sums 1, 1. H^d = H, so gains stay 2 and 1.
    const g = compositeGain(batch([1, 1, 0, 0], 5), 2, 1, 5);
    expect(Array.from(g.forwardCurve)).toEqual([2, 2, 2, 2, 2]);
    expect(Array.from(g.backwardCurve)).toEqual([1, 1, 1, 1, 1]);
  });

  it("multiplies in the order H_depth ... H_1 (x_{l+1} = H_l x_l)", () => {
    // H_1 = [[1, 0], [1, 0]] (copy stream 0), H_2 = [[1, 0], [0, 3]] (scale stream 1):
    // H_2 H_1 = [[1, 0], [3, 0]]: row sums 1, 3 (forward 3), column sums 4, 0 (backward 4).
    // The other order, H_1 H_2 = [[1, 0], [1, 0]], would give 1 and 2.
    const g = compositeGain(Float64Array.from([1, 0, 1, 0, 1, 0, 0, 3]), 2, 1, 2);
    expect(g.forward.mean).toBeCloseTo(3, 14);
    expect(g.backward.mean).toBeCloseTo(4, 14);
  });

  it("stays exact in the log domain far past float64 overflow", () => {
    const g = compositeGain(batch([2, 0, 0, 2], 2000), 2, 1, 2000);
    expect(g.log10ForwardCurve[1999]).toBeCloseTo(2000 * Math.log10(2), 9);
    expect(g.forward.mean).toBe(Infinity);
    expect(g.forwardCurve[9]).toBeCloseTo(1024, 9);
  });

  it("averages over chains with the arithmetic mean, and gives the median", () => {
    // Chain 0: 2I twice (gain 4); chain 1: I twice (gain 1).
    const g = compositeGain(Float64Array.from([2, 0, 0, 2, 2, 0, 0, 2, 1, 0, 0, 1, 1, 0, 0, 1]), 2, 2, 2);
    expect(g.forward.mean).toBeCloseTo(2.5, 14);
    expect(g.forward.median).toBeCloseTo(2, 14);
    expect(g.forward.max).toBeCloseTo(4, 14);
    expect(logMeanExp([Math.log(1), Math.log(3)])).toBeCloseTo(Math.log(2), 14);
  });
});

describe("seeded sampling", () => {
  it("is deterministic for a seed and differs between seeds and stream names", () => {
    expect(Array.from(gaussianStream(8, 0, "a"))).toEqual(Array.from(gaussianStream(8, 0, "a")));
    expect(Array.from(gaussianStream(8, 0, "a"))).not.toEqual(Array.from(gaussianStream(8, 1, "a")));
    expect(streamSeed(0, "a", "4x4")).not.toBe(streamSeed(0, "a", "16"));
  });

  it("draws standard normal values", () => {
    const x = new Rng(42).gaussians(200_000);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.01);
  });

  it("makes unit directions", () => {
    const d = unitDirections(3, 16, 0, "dirs");
    expect(Array.from(sampleNorms(d, 16, 3)).map((v) => Number(v.toFixed(12)))).toEqual([1, 1, 1]);
    expect(sampleNorms([3e200, 4e200], 2, 1)[0]).toBeCloseTo(5e200, -188);
  });
});
