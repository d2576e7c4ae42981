import type { TopLevelSpec } from "vega-lite";
import type { LabReport } from "./report.js";
import { formatScale } from "./run-lab.js";

/**
 * The lab's plots as Vega-Lite specifications, compiled to Vega and rendered
 * to SVG headless (no browser, no canvas: `renderer: "none"`). Vega is
 * imported lazily, so commands that draw nothing never load it.
 *
 *   gain.svg        composite forward Amax gain vs depth (log y), one line
 *                   per matrix constraint at the scale nearest 1, with the
 *                   paper's HC and mHC values as reference rules;
 *   iterations.svg  column- and row-sum error vs the `iters`/`steps` count (log-log);
 *   spectral.svg    spectral norm (mean, and max dashed) vs logit scale (log-log);
 *   gradients.svg   mean gradient norm vs logit scale (log-log).
 *
 * Log axes cannot show 0 or non-finite values: errors are drawn no lower than
 * `ERROR_FLOOR` (the caption says so), other such points are left out.
 */

export const ERROR_FLOOR = 1e-16;
const WIDTH = 560;
const HEIGHT = 340;

export interface PlotFile {
  readonly name: string;
  readonly spec: TopLevelSpec;
}

/** The scale whose gain curve is drawn: 1 when it was run, else the nearest in log distance. */
export function gainPlotScale(scales: readonly number[]): number | undefined {
  let best: number | undefined;
  for (const s of scales) {
    if (!(s > 0)) continue;
    if (best === undefined || Math.abs(Math.log(s)) < Math.abs(Math.log(best))) best = s;
  }
  return best;
}

const finitePositive = (v: number): boolean => Number.isFinite(v) && v > 0;

/** The parts every plot shares; each spec adds its data, marks and encodings. */
function base(title: string, subtitle: string | string[]): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: title, subtitle, anchor: "start", subtitleColor: "#555" },
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    config: { font: "Helvetica, Arial, sans-serif", legend: { orient: "right" } },
  };
}

/** Tableau 10, Vega's default categorical palette. */
const PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"];

/**
 * Colours by the constraint's position in the report, so a constraint has the
 * same colour in every plot even when a plot shows only some of them.
 */
function colorScale(report: LabReport, shown: ReadonlySet<string>): { domain: string[]; range: string[] } {
  const domain: string[] = [];
  const range: string[] = [];
  report.constraints.forEach((c, i) => {
    if (!shown.has(c.name)) return;
    domain.push(c.name);
    range.push(PALETTE[i % PALETTE.length]!);
  });
  return { domain, range };
}

const names = (rows: readonly { constraint: string }[]): Set<string> => new Set(rows.map((r) => r.constraint));

/** Log-axis labels: plain numbers from 0.001 to 10000, `1e6` style outside. */
const LOG_LABELS = "datum.label == '' ? '' : abs(datum.value) >= 1e5 || abs(datum.value) < 1e-3 ? replace(format(datum.value, '.0e'), '+', '') : datum.label";
/** d3's log-scale formatter labels only the ticks that fit; `LOG_LABELS` then shortens big and small ones. */
const LOG_AXIS = { format: "~g", labelExpr: LOG_LABELS };

export function gainSpec(report: LabReport): TopLevelSpec | undefined {
  const scale = gainPlotScale(report.settings.scales);
  if (scale === undefined) return undefined;
  const si = report.settings.scales.indexOf(scale);
  const rows: { constraint: string; depth: number; gain: number }[] = [];
  for (const c of report.constraints) {
    const curve = c.scales[si]?.gain?.curve.forward;
    if (!curve) continue;
    curve.forEach((gain, d) => {
      if (finitePositive(gain)) rows.push({ constraint: c.name, depth: d + 1, gain });
    });
  }
  if (rows.length === 0) return undefined;
  const ref = report.reference;
  const refs = [
    { label: `HC (paper) ~ ${ref.hcAmaxGain}`, gain: ref.hcAmaxGain },
    { label: `mHC (paper) ~ ${ref.mhcAmaxGain}`, gain: ref.mhcAmaxGain },
  ];
  return {
    ...base(`Composite forward gain vs depth (logits scale ${formatScale(scale)})`, [
      `Amax gain: max_i |row sum of H_d ... H_1|, mean over ${report.settings.chains} chains, n = ${report.settings.n}`,
      `paper (27B, 60 sublayers): HC peaks near ${ref.hcAmaxGain}, mHC near ${ref.mhcAmaxGain}`,
    ]),
    layer: [
      {
        data: { values: rows },
        mark: { type: "line", strokeWidth: 2 },
        encoding: {
          x: { field: "depth", type: "quantitative", title: "depth (layers)", scale: { domain: [1, report.settings.depth] } },
          y: { field: "gain", type: "quantitative", title: "forward Amax gain", scale: { type: "log" }, axis: LOG_AXIS },
          color: { field: "constraint", type: "nominal", title: "constraint", scale: colorScale(report, names(rows)) },
        },
      },
      {
        data: { values: refs },
        mark: { type: "rule", strokeDash: [4, 4], color: "#888" },
        encoding: { y: { field: "gain", type: "quantitative" } },
      },
      {
        data: { values: refs },
        mark: { type: "text", align: "left", dx: 4, dy: -6, color: "#555", fontSize: 10 },
        encoding: { x: { datum: 1, type: "quantitative" }, y: { field: "gain", type: "quantitative" }, text: { field: "label" } },
      },
    ],
  } as TopLevelSpec;
}

export function iterationsSpec(report: LabReport): TopLevelSpec | undefined {
  const rows: { constraint: string; iterations: number; error: number; metric: string }[] = [];
  let parameters = new Set<string>();
  for (const c of report.constraints) {
    if (!c.iterations) continue;
    parameters.add(c.iterations.parameter);
    for (const p of c.iterations.points) {
      for (const [metric, s] of [["column-sum error", p.colError], ["row-sum error", p.rowError]] as const) {
        if (s && !Number.isNaN(s.max) && Number.isFinite(s.max)) rows.push({ constraint: c.name, iterations: p.count, error: Math.max(s.max, ERROR_FLOOR), metric });
      }
    }
  }
  if (rows.length === 0) return undefined;
  parameters = new Set([...parameters].sort());
  return {
    ...base(`Constraint error vs iterations (logits scale ${formatScale(report.settings.iterationScale)})`, [
      `max over ${report.settings.samples} samples of max |sum - 1|; solid: columns, dashed: rows`,
      `parameter: ${[...parameters].join(", ")}; errors below ${ERROR_FLOOR} are drawn at ${ERROR_FLOOR}`,
    ]),
    data: { values: rows },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: { field: "iterations", type: "quantitative", title: "iterations", scale: { type: "log" }, axis: LOG_AXIS },
      y: { field: "error", type: "quantitative", title: "max |sum - 1|", scale: { type: "log" }, axis: LOG_AXIS },
      color: { field: "constraint", type: "nominal", scale: colorScale(report, names(rows)) },
      strokeDash: { field: "metric", type: "nominal", title: "error", scale: { domain: ["column-sum error", "row-sum error"], range: [[1, 0], [5, 3]] } },
    },
  } as TopLevelSpec;
}

export function spectralSpec(report: LabReport): TopLevelSpec | undefined {
  const rows: { constraint: string; scale: number; value: number; stat: string }[] = [];
  for (const c of report.constraints) {
    c.scales.forEach((s) => {
      if (!s.spectralNorm) return;
      if (finitePositive(s.spectralNorm.mean)) rows.push({ constraint: c.name, scale: s.scale, value: s.spectralNorm.mean, stat: "mean" });
      if (finitePositive(s.spectralNorm.max)) rows.push({ constraint: c.name, scale: s.scale, value: s.spectralNorm.max, stat: "max" });
    });
  }
  if (rows.length === 0) return undefined;
  return {
    ...base("Spectral norm of one layer vs logits scale", [
      `largest singular value of H over ${report.settings.samples} samples per scale (solid: mean, dashed: max)`,
      "a doubly stochastic matrix has exactly 1",
    ]),
    data: { values: rows },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: { field: "scale", type: "quantitative", title: "logits scale", scale: { type: "log" }, axis: LOG_AXIS },
      y: { field: "value", type: "quantitative", title: "spectral norm", scale: { type: "log" }, axis: LOG_AXIS },
      color: { field: "constraint", type: "nominal", scale: colorScale(report, names(rows)) },
      strokeDash: { field: "stat", type: "nominal", title: "statistic", scale: { domain: ["mean", "max"], range: [[1, 0], [5, 3]] } },
    },
  } as TopLevelSpec;
}

export function gradientsSpec(report: LabReport): TopLevelSpec | undefined {
  const rows: { constraint: string; scale: number; norm: number }[] = [];
  for (const c of report.constraints) {
    for (const s of c.scales) if (finitePositive(s.gradientNorm.mean)) rows.push({ constraint: c.name, scale: s.scale, norm: s.gradientNorm.mean });
  }
  if (rows.length === 0) return undefined;
  return {
    ...base("Gradient norm vs logits scale", [
      `|d sum(H * G) / dL| for a random unit-norm G, mean over ${report.settings.samples} samples (IR autodiff)`,
      "falling with scale: vanishing sensitivity (saturation); rising: exploding",
    ]),
    data: { values: rows },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: { field: "scale", type: "quantitative", title: "logits scale", scale: { type: "log" }, axis: LOG_AXIS },
      y: { field: "norm", type: "quantitative", title: "gradient norm", scale: { type: "log" }, axis: LOG_AXIS },
      color: { field: "constraint", type: "nominal", scale: colorScale(report, names(rows)) },
    },
  } as TopLevelSpec;
}

/**
 * A plot that says why it is empty. Every run writes every file, so a plot
 * from an earlier run in the same directory is never left behind looking current.
 */
function emptySpec(title: string, reason: string): TopLevelSpec {
  return {
    ...base(title, reason),
    data: { values: [{ text: "nothing to plot" }] },
    mark: { type: "text", fontSize: 14, color: "#888" },
    encoding: { text: { field: "text" } },
  } as TopLevelSpec;
}

/** Every plot of the report, always the same four files. */
export function plotSpecs(report: LabReport): PlotFile[] {
  return [
    { name: "gain.svg", spec: gainSpec(report) ?? emptySpec("Composite forward gain vs depth", "no matrix constraint with a positive, finite gain at the scale nearest 1") },
    { name: "iterations.svg", spec: iterationsSpec(report) ?? emptySpec("Constraint error vs iterations", "no matrix constraint with an integer `iters` or `steps` parameter") },
    { name: "spectral.svg", spec: spectralSpec(report) ?? emptySpec("Spectral norm of one layer vs logits scale", "no matrix constraint with a positive, finite spectral norm") },
    { name: "gradients.svg", spec: gradientsSpec(report) ?? emptySpec("Gradient norm vs logits scale", "no positive, finite gradient norm (constraints that ignore their logits have none)") },
  ];
}

/** Compiles a Vega-Lite spec and renders it to an SVG document (loads vega on first use). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    return svg.endsWith("\n") ? svg : svg + "\n";
  } finally {
    view.finalize();
  }
}
