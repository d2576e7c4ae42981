import { describe, expect, it } from "vitest";
import { checkFiles } from "../../compiler/driver.js";
import { parseReportJson, reportToJson, REPORT_SCHEMA, type LabReport } from "../../compiler/lab/report.js";
import { prepareConstraint, runLab, type LabRunOptions, type PreparedConstraint } from "../../compiler/lab/run-lab.js";
import { renderReport } from "../../compiler/lab/table.js";
import type { CompileValue } from "../../compiler/lower/values.js";

const FILE = "examples/orthostochastic.mhc";
const result = checkFiles([FILE]);
const checked = result.checked;
const scope = checked.scopes.get(checked.program.entries[0]!)!;

function prepare(name: string, n = 4, settings: ReadonlyMap<string, CompileValue> = new Map()): PreparedConstraint {
  const target = scope.lookup(name);
  if (target?.kind !== "constraint") throw new Error(`no constraint ${name}`);
  const sig = checked.checkers.constraints.signature(target.decl, checked.scopes.get(target.file.absPath)!);
  const p = prepareConstraint(checked, sig, n, settings, process.cwd());
  if ("diagnostics" in p) throw new Error(p.diagnostics.map((d) => d.message).join("; "));
  return p;
}

function lab(names: readonly string[], options: Partial<LabRunOptions> = {}): LabReport {
  const n = options.n ?? 4;
  return runLab(checked, FILE, names.map((name) => prepare(name, n)), { n, depth: 60, samples: 24, seed: 0, scales: [1], iterationCounts: [1, 2, 5, 20, 100], ...options }, "test");
}

describe("mhc lab: the paper's finding on random logits", () => {
  const report = lab(["sinkhorn", "unconstrained"], { scales: [0.1, 1, 1e4] });
  const at = (name: string, scale: number) => report.constraints.find((c) => c.name === name)!.scales.find((s) => s.scale === scale)!;

  it("keeps Sinkhorn's composite gain near 1 over depth 60 while the unconstrained map explodes", () => {
    const sinkhorn = at("sinkhorn", 1).gain!;
    const free = at("unconstrained", 1).gain!;
    expect(sinkhorn.depth).toBe(60);
    for (const g of [...sinkhorn.curve.forward, ...sinkhorn.curve.backward]) {
      expect(g).toBeLessThan(2);
      expect(g).toBeGreaterThan(0.5);
    }
    // Same logits (same shape, same stream), orders of magnitude apart.
    expect(free.forward.mean).toBeGreaterThan(1e6 * sinkhorn.forward.mean);
    expect(free.backward.log10Mean).toBeGreaterThan(6);
    // The curve grows geometrically: later depths are larger.
    expect(free.curve.log10Forward[59]!).toBeGreaterThan(free.curve.log10Forward[9]! + 5);
  });

  it("reports Sinkhorn as row-stochastic up to eps, with spectral norm 1 and no non-finite values at 1e4", () => {
    const s = at("sinkhorn", 1);
    expect(s.rowError!.max).toBeLessThan(1e-5);
    expect(s.colError!.max).toBeLessThan(1e-2);
    expect(s.spectralNorm!.max).toBeCloseTo(1, 3);
    expect(s.range.min).toBeGreaterThanOrEqual(0);
    const extreme = at("sinkhorn", 1e4);
    expect(extreme.nonFinite).toEqual({ outputs: 0, gradients: 0 });
    // Saturated softmax: the sensitivity to the logits vanishes at large scales.
    expect(extreme.gradientNorm.mean).toBeLessThan(1e-3 * s.gradientNorm.mean);
    // The identity map H = L has gradient exactly G, of unit norm.
    expect(at("unconstrained", 1).gradientNorm.mean).toBeCloseTo(1, 12);
    expect(report.nonFinite).toEqual({ outputs: 0, gradients: 0 });
  });

  it("shows Sinkhorn's column error falling with iterations while the row error stays at eps", () => {
    const sweep = report.constraints.find((c) => c.name === "sinkhorn")!.iterations!;
    expect(sweep.parameter).toBe("iters");
    const col = sweep.points.map((p) => p.colError!.max);
    for (let i = 1; i < col.length; i++) expect(col[i]!).toBeLessThan(col[i - 1]!);
    expect(col[0]!).toBeGreaterThan(0.1);
    expect(col[col.length - 1]!).toBeLessThan(1e-5);
    for (const p of sweep.points) expect(p.rowError!.max).toBeLessThan(1e-4);
    expect(report.constraints.find((c) => c.name === "unconstrained")!.iterations).toBeUndefined();
  });

  it("renders a table with a block per scale and a row per constraint", () => {
    const text = renderReport(report, false);
    expect(text).toContain("scale 0.1\n");
    expect(text).toContain("scale 1e4\n");
    expect(text).toMatch(/^ {2}sinkhorn +1\.00e-6/m);
    expect(text).toContain("column-sum error vs iterations");
    expect(text).not.toMatch(/\x1b\[/);
    expect(renderReport(report, true)).toMatch(/\x1b\[/);
  });
});

describe("mhc lab: determinism and the report schema", () => {
  it("gives a byte-identical report for the same seed, and another for another seed", () => {
    const options = { depth: 5, samples: 6, iterationCounts: [1, 3] };
    const a = reportToJson(lab(["sinkhorn", "birkhoff_lite"], options));
    const b = reportToJson(lab(["sinkhorn", "birkhoff_lite"], options));
    expect(a).toBe(b);
    expect(reportToJson(lab(["sinkhorn", "birkhoff_lite"], { ...options, seed: 1 }))).not.toBe(a);
    // Adding a constraint does not change the numbers of the others.
    const more = parseReportJson(reportToJson(lab(["unconstrained", "sinkhorn", "birkhoff_lite"], options)));
    expect(more.constraints.slice(1)).toEqual(parseReportJson(a).constraints);
  });

  it("has the documented fields, and round-trips non-finite numbers", () => {
    const report = parseReportJson(reportToJson(lab(["sinkhorn", "fixed_ones", "birkhoff_lite"], { depth: 3, samples: 4, iterationCounts: [1, 2] })));
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(Object.keys(report)).toEqual(["schema", "generator", "file", "settings", "reference", "constraints", "nonFinite"]);
    expect(report.settings).toEqual({ n: 4, depth: 3, samples: 4, chains: 4, seed: 0, scales: [1], iterationCounts: [1, 2], iterationScale: 1, settings: {} });
    expect(report.reference).toMatchObject({ hcAmaxGain: 3000, mhcAmaxGain: 1.6 });
    const [sinkhorn, ones, lite] = report.constraints;
    expect(sinkhorn).toMatchObject({ name: "sinkhorn", declaredIn: "<prelude>", kind: "matrix", polymorphic: false, args: { iters: 20, eps: 1e-6 }, logitsShape: [4, 4], resultShape: [4, 4] });
    expect(Object.keys(sinkhorn!.scales[0]!)).toEqual(["scale", "nonFinite", "range", "gradientNorm", "rowError", "colError", "spectralNorm", "gain"]);
    expect(Object.keys(sinkhorn!.scales[0]!.gain!)).toEqual(["depth", "chains", "forward", "backward", "curve"]);
    expect(Object.keys(sinkhorn!.scales[0]!.gain!.forward)).toEqual(["mean", "median", "min", "max", "log10Mean"]);
    expect(sinkhorn!.scales[0]!.gain!.curve.forward).toHaveLength(3);
    expect(sinkhorn!.iterations!.points.map((p) => p.count)).toEqual([1, 2]);
    // A vector-valued constraint: range and gradients only.
    expect(ones).toMatchObject({ name: "fixed_ones", kind: "vector", resultShape: [4] });
    expect(Object.keys(ones!.scales[0]!)).toEqual(["scale", "nonFinite", "range", "gradientNorm"]);
    expect(ones!.scales[0]!.gradientNorm.max).toBe(0);
    // mHC-lite: n! logits, exactly doubly stochastic.
    expect(lite).toMatchObject({ logitsShape: [24], resultShape: [4, 4] });
    expect(lite!.scales[0]!.colError!.max).toBeLessThan(1e-14);

    const text = reportToJson({ ...report, nonFinite: { outputs: NaN, gradients: Infinity } });
    expect(text).toContain('"outputs": "NaN"');
    expect(parseReportJson(text).nonFinite.gradients).toBe(Infinity);
  });

  it("evaluates shape-polymorphic constraints as [n, n] matrices", () => {
    const report = lab(["sigmoid_eps"], { n: 3, depth: 4, samples: 4 });
    expect(report.constraints[0]).toMatchObject({ kind: "matrix", polymorphic: true, logitsShape: [3, 3], resultShape: [3, 3] });
  });
});
