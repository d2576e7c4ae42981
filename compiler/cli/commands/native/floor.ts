/*
 * The byte model of the forward floor, the same as scripts/gpu/bench_forward.py
 * and scripts/gpu/README.md: per call of pre + post, with e bytes per residual
 * element and the projections phi ([n C, K] fp32) read once,
 *   floor_3pass = T C e (4n + 2) + phi: x read by the prenorm GEMM, the pre-mix
 *                 and the post (3n), y written (n), u written (1), f read (1);
 *   floor_2pass = T C e (3n + 2) + phi: x read twice, the least any split into
 *                 pre and post can move.
 * A floor in time is those bytes over the measured copy bandwidth.
 */

export interface FloorBytes {
  readonly threePass: number;
  readonly twoPass: number;
  readonly phi: number;
}

export function floorBytes(p: { T: number; C: number; n: number; elementBytes: number; phiBytes: number }): FloorBytes {
  const perStream = p.T * p.C * p.elementBytes;
  return { threePass: perStream * (4 * p.n + 2) + p.phiBytes, twoPass: perStream * (3 * p.n + 2) + p.phiBytes, phi: p.phiBytes };
}

/** Bytes of the device-to-device copy that measures bandwidth: half the 3-pass floor, at least 1 MiB. */
export function bandwidthProbeBytes(floor: FloorBytes): number {
  return Math.max(Math.floor(floor.threePass / 2), 1 << 20);
}

/** Milliseconds to move `bytes` at `bytesPerSecond`. */
export function floorMs(bytes: number, bytesPerSecond: number): number {
  return (bytes / bytesPerSecond) * 1e3;
}

/**
 * Input sets to rotate through so that small problems are not timed out of
 * L2: enough to cover twice the L2 size, from 1 to 64 (as the Python benchmark).
 */
export function inputSetCount(setBytes: number, l2Bytes: number): number {
  return Math.max(1, Math.min(64, Math.ceil((2 * l2Bytes) / Math.max(setBytes, 1))));
}
