/**
 * The composite residual map over depth and its "Amax gain magnitude" (mHC
 * paper §3.1, §5.4, Fig. 3b/7b; reference §2.5): for a chain
 * `x_{l+1} = H_l x_l`, the composite after `d` layers is
 * `P_d = H_d ... H_2 H_1`, and its gains are
 *
 *     forward  = max_i |sum_j P_d[i, j]|   (the largest absolute row sum)
 *     backward = max_j |sum_i P_d[i, j]|   (the largest absolute column sum)
 *
 * averaged over chains (the paper averages over the tokens of a sequence).
 * Every H is independently sampled. Products of unconstrained matrices grow
 * geometrically (1e14 after 60 Gaussian 4 x 4 layers), so `P` is kept as
 * `exp(logScale) * P'` with `max |P'| = 1` and gains are computed in the log
 * domain: a gain of 1e400 is reported as `log10 = 400` (and `Infinity` as a
 * plain number) instead of overflowing halfway down the chain.
 */

export interface GainStats {
  /** Arithmetic mean over chains (the paper's statistic). */
  readonly mean: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** log10 of `mean`, finite even when `mean` overflows float64. */
  readonly log10Mean: number;
}

export interface CompositeGain {
  readonly depth: number;
  readonly chains: number;
  /** Mean over chains of the forward gain after 1, 2, ..., depth layers. */
  readonly forwardCurve: Float64Array;
  readonly backwardCurve: Float64Array;
  readonly log10ForwardCurve: Float64Array;
  readonly log10BackwardCurve: Float64Array;
  /** At the final depth. */
  readonly forward: GainStats;
  readonly backward: GainStats;
}

/** `log(mean(exp(x)))`, stable; NaN if any x is NaN, -Infinity if all are. */
export function logMeanExp(xs: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    if (Number.isNaN(x)) return NaN;
    if (x > m) m = x;
  }
  if (m === -Infinity || m === Infinity) return m;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += Math.exp((xs[i] as number) - m);
  return m + Math.log(s / xs.length);
}

function stats(logGains: Float64Array): GainStats {
  const sorted = Float64Array.from(logGains).sort();
  const mid = sorted.length >> 1;
  const medianLog = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const nan = logGains.some(Number.isNaN);
  const lme = logMeanExp(logGains);
  return {
    mean: Math.exp(lme),
    median: nan ? NaN : Math.exp(medianLog),
    min: nan ? NaN : Math.exp(sorted[0]!),
    max: nan ? NaN : Math.exp(sorted[sorted.length - 1]!),
    log10Mean: lme / Math.LN10,
  };
}

/**
 * `matrices` holds `chains * depth` row-major `n x n` matrices, chain-major:
 * layer `l` (0-based, applied first at l = 0) of chain `c` at index `c * depth + l`.
 */
export function compositeGain(matrices: ArrayLike<number>, n: number, chains: number, depth: number): CompositeGain {
  const nn = n * n;
  // logForward[d * chains + c]
  const logForward = new Float64Array(depth * chains);
  const logBackward = new Float64Array(depth * chains);
  const p = new Float64Array(nn);
  const next = new Float64Array(nn);
  for (let c = 0; c < chains; c++) {
    let logScale = 0;
    for (let d = 0; d < depth; d++) {
      const base = (c * depth + d) * nn;
      if (d === 0) {
        for (let k = 0; k < nn; k++) p[k] = matrices[base + k] as number;
      } else {
        // next = H_d @ p
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let k = 0; k < n; k++) s += (matrices[base + i * n + k] as number) * p[k * n + j]!;
            next[i * n + j] = s;
          }
        }
        p.set(next);
      }
      // Renormalise so that max |p| = 1 (skipped for a zero or non-finite p).
      let big = 0;
      for (let k = 0; k < nn; k++) big = Math.max(big, Math.abs(p[k]!));
      if (big > 0 && Number.isFinite(big)) {
        for (let k = 0; k < nn; k++) p[k] = p[k]! / big;
        logScale += Math.log(big);
      } else if (!(big === 0)) {
        logScale = NaN;
      }
      let fwd = 0;
      let bwd = 0;
      for (let i = 0; i < n; i++) {
        let row = 0;
        let col = 0;
        for (let j = 0; j < n; j++) {
          row += p[i * n + j]!;
          col += p[j * n + i]!;
        }
        fwd = Math.max(fwd, Math.abs(row));
        bwd = Math.max(bwd, Math.abs(col));
      }
      logForward[d * chains + c] = Number.isNaN(logScale) ? NaN : Math.log(fwd) + logScale;
      logBackward[d * chains + c] = Number.isNaN(logScale) ? NaN : Math.log(bwd) + logScale;
    }
  }
  const forwardCurve = new Float64Array(depth);
  const backwardCurve = new Float64Array(depth);
  const log10ForwardCurve = new Float64Array(depth);
  const log10BackwardCurve = new Float64Array(depth);
  for (let d = 0; d < depth; d++) {
    const f = logMeanExp(logForward.subarray(d * chains, (d + 1) * chains));
    const b = logMeanExp(logBackward.subarray(d * chains, (d + 1) * chains));
    forwardCurve[d] = Math.exp(f);
    backwardCurve[d] = Math.exp(b);
    log10ForwardCurve[d] = f / Math.LN10;
    log10BackwardCurve[d] = b / Math.LN10;
  }
  const last = (depth - 1) * chains;
  return {
    depth,
    chains,
    forwardCurve,
    backwardCurve,
    log10ForwardCurve,
    log10BackwardCurve,
    forward: stats(logForward.subarray(last, last + chains)),
    backward: stats(logBackward.subarray(last, last + chains)),
  };
}
