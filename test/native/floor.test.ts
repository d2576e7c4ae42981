import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bandwidthProbeBytes, floorBytes, floorMs, inputSetCount } from "../../compiler/cli/commands/native/floor.js";

interface PythonRow {
  readonly T: number;
  readonly C: number;
  readonly n: number;
  readonly K: number;
  readonly bytes_floor_3pass: number;
  readonly bytes_floor_2pass: number;
  readonly copy_bandwidth_TBps: number;
  readonly floor_3pass_ms: number;
  readonly input_sets: number;
}

/** The floors the Python benchmark recorded on the GPU, which `mhc bench` must reproduce byte for byte. */
const python = JSON.parse(readFileSync(new URL("../../bench/results/cuda-forward-h100-2026-11-25-run2.json", import.meta.url), "utf8")) as { rows: PythonRow[] };

describe("the forward floor's byte model", () => {
  it.each(python.rows.map((r) => [`T=${r.T} C=${r.C} n=${r.n}`, r] as const))("matches bench_forward.py at %s", (_, row) => {
    const bytes = floorBytes({ T: row.T, C: row.C, n: row.n, elementBytes: 2, phiBytes: row.n * row.C * row.K * 4 });
    expect(bytes.threePass).toBe(row.bytes_floor_3pass);
    expect(bytes.twoPass).toBe(row.bytes_floor_2pass);
    expect(floorMs(bytes.threePass, row.copy_bandwidth_TBps * 1e12)).toBeCloseTo(row.floor_3pass_ms, 9);
  });

  it("counts x three times, y, u and f once each, and phi once", () => {
    // T = 2, C = 3, n = 4, fp32: per stream-row 2 * 3 * 4 = 24 bytes; (4n + 2) = 18 of them.
    expect(floorBytes({ T: 2, C: 3, n: 4, elementBytes: 4, phiBytes: 100 })).toEqual({ threePass: 24 * 18 + 100, twoPass: 24 * 14 + 100, phi: 100 });
  });

  it("probes bandwidth with half the floor, at least 1 MiB", () => {
    expect(bandwidthProbeBytes({ threePass: 2116681728, twoPass: 0, phi: 0 })).toBe(1058340864);
    expect(bandwidthProbeBytes({ threePass: 1000, twoPass: 0, phi: 0 })).toBe(1 << 20);
  });

  it("rotates as many input sets as the Python benchmark", () => {
    const l2 = 50 * 2 ** 20;
    for (const row of python.rows) {
      const e = 2;
      const setBytes = 2 * row.T * row.n * row.C * e + row.n * row.C * row.K * 4 + 2 * row.T * row.C * e;
      expect(inputSetCount(setBytes, l2), `T=${row.T} C=${row.C} n=${row.n}`).toBe(row.input_sets);
    }
    expect(inputSetCount(1, l2)).toBe(64);
  });
});
