import { colors } from "../diagnostics/render.js";
import type { Summary } from "./metrics.js";
import type { ConstraintReport, LabReport, ScaleReport } from "./report.js";
import { formatScale } from "./run-lab.js";

/**
 * The terminal view of a lab report: one block per logit scale (a row per
 * constraint), then the iteration sweeps, then the paper's reference numbers.
 * Columns are aligned on visible width (colour codes are added after padding).
 * Colour marks what matters: errors and gains near their ideal in green,
 * large ones in red, non-finite counts above zero in bold red.
 */

type Colors = ReturnType<typeof colors>;
type Tone = "good" | "warn" | "bad" | "dim" | "plain" | "alarm";

interface Cell {
  readonly text: string;
  readonly tone?: Tone;
  readonly align?: "left" | "right";
}

/** Short numbers for tables: 4 significant digits, exponents without `+`. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return v.toPrecision(4);
  const [mantissa, exponent] = v.toExponential(2).split("e");
  return `${mantissa}e${Number(exponent)}`;
}

/** A parameter value as it would be written in a .mhc file: `20`, `1e-6`, `0.5`, `true`. */
function formatArg(v: number | boolean): string {
  if (typeof v === "boolean" || Number.isInteger(v)) return String(v);
  const plain = String(v);
  if (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 && plain.length <= 8) return plain;
  const [mantissa, exponent] = v.toExponential().split("e");
  return `${mantissa}e${Number(exponent)}`;
}

function paint(c: Colors, tone: Tone | undefined, text: string): string {
  switch (tone) {
    case "good":
      return c.green(text);
    case "warn":
      return c.yellow(text);
    case "bad":
      return c.red(text);
    case "alarm":
      return c.bold(c.red(text));
    case "dim":
      return c.dim(text);
    default:
      return text;
  }
}

/** Renders rows of cells with aligned columns (numbers right-aligned), indented by two spaces. */
export function renderTable(header: readonly string[], rows: readonly (readonly Cell[])[], c: Colors): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const line = (cells: readonly Cell[], head: boolean): string =>
    "  " +
    cells
      .map((cell, i) => {
        const w = widths[i]!;
        const padded = cell.align === "left" || i === 0 ? cell.text.padEnd(w) : cell.text.padStart(w);
        return head ? c.bold(padded) : paint(c, cell.tone, padded);
      })
      .join("  ")
      .trimEnd();
  return [line(header.map((text, i) => ({ text, align: i === 0 ? "left" : "right" })), true), ...rows.map((r) => line(r, false))].join("\n") + "\n";
}

const dash: Cell = { text: "-", tone: "dim" };

function errorCell(v: number | undefined): Cell {
  if (v === undefined) return dash;
  const tone: Tone = !Number.isFinite(v) ? "alarm" : v <= 1e-4 ? "good" : v <= 1e-2 ? "warn" : "bad";
  return { text: formatNumber(v), tone };
}

function gainCell(v: number | undefined): Cell {
  if (v === undefined) return dash;
  const off = Math.abs(Math.log10(v));
  const tone: Tone = !Number.isFinite(v) || Number.isNaN(off) ? "alarm" : off <= Math.log10(2) ? "good" : off <= 1 ? "warn" : "bad";
  return { text: formatNumber(v), tone };
}

function plainCell(v: number | undefined): Cell {
  return v === undefined ? dash : { text: formatNumber(v), tone: Number.isFinite(v) ? "plain" : "alarm" };
}

function nonFiniteCell(s: ScaleReport): Cell {
  const total = s.nonFinite.outputs + s.nonFinite.gradients;
  if (total === 0) return { text: "0", tone: "dim" };
  return { text: `${s.nonFinite.outputs} H, ${s.nonFinite.gradients} grad`, tone: "alarm" };
}

function argsText(c: ConstraintReport): string {
  const entries = Object.entries(c.args);
  return entries.length === 0 ? "" : `(${entries.map(([k, v]) => `${k} = ${formatArg(v)}`).join(", ")})`;
}

function describeConstraint(c: ConstraintReport): string {
  const notes: string[] = [];
  if (c.polymorphic) notes.push("shape-polymorphic, run on [n, n] logits");
  if (c.kind !== "matrix") notes.push(`${c.kind} result [${c.resultShape.join(", ")}]: range and gradients only`);
  if (c.declaredIn !== "<prelude>") notes.push(`from ${c.declaredIn}`);
  return `${c.name}${argsText(c)}${notes.length ? `  [${notes.join("; ")}]` : ""}`;
}

const maxOf = (s: Summary | undefined): number | undefined => s?.max;

/** The whole terminal report. */
export function renderReport(report: LabReport, color: boolean): string {
  const c = colors(color);
  const { settings } = report;
  const out: string[] = [];
  out.push(
    c.bold(`mhc lab ${report.file}`) +
      `: n = ${settings.n}, ${settings.samples} samples per scale, composite over depth ${settings.depth} (${settings.chains} chains), seed ${settings.seed}\n`,
  );
  for (const con of report.constraints) out.push(`  ${describeConstraint(con)}\n`);
  out.push(
    c.dim(
      "  logits: standard Gaussian x scale. err: max over samples of max |sum - 1| (rows: forward, columns: backward gain)\n" +
        "  spec: spectral norm (largest singular value). gain: the paper's Amax gain of H_depth...H_1, mean over chains.\n" +
        "  grad norm: |d sum(H * G) / dL| for a random unit G, mean over samples\n",
    ),
  );

  const depth = settings.depth;
  const header = ["constraint", "row err", "col err", "min H", "max H", "spec max", "spec mean", `fwd gain@${depth}`, `bwd gain@${depth}`, "grad norm", "non-finite"];
  report.settings.scales.forEach((scale, si) => {
    out.push("\n" + c.bold(`scale ${formatScale(scale)}`) + "\n");
    const rows = report.constraints.map((con) => {
      const s = con.scales[si]!;
      return [
        { text: con.name, align: "left" as const },
        errorCell(maxOf(s.rowError)),
        errorCell(maxOf(s.colError)),
        plainCell(s.range.min),
        plainCell(s.range.max),
        s.spectralNorm ? gainCell(s.spectralNorm.max) : dash,
        s.spectralNorm ? gainCell(s.spectralNorm.mean) : dash,
        gainCell(s.gain?.forward.mean),
        gainCell(s.gain?.backward.mean),
        plainCell(s.gradientNorm.mean),
        nonFiniteCell(s),
      ];
    });
    out.push(renderTable(header, rows, c));
  });

  const swept = report.constraints.filter((con) => con.iterations);
  if (swept.length > 0) {
    const counts = settings.iterationCounts;
    for (const [title, pick] of [
      ["column-sum error", (p: { colError?: Summary }) => p.colError],
      ["row-sum error", (p: { rowError?: Summary }) => p.rowError],
    ] as const) {
      out.push("\n" + c.bold(`${title} vs iterations`) + c.dim(` (scale ${formatScale(settings.iterationScale)}, max over samples)`) + "\n");
      const rows = swept.map((con) => [
        { text: `${con.name} (${con.iterations!.parameter})`, align: "left" as const },
        ...counts.map((count) => {
          const point = con.iterations!.points.find((p) => p.count === count);
          if (!point || point.skipped) return dash;
          return errorCell(pick(point)?.max);
        }),
      ]);
      out.push(renderTable(["constraint", ...counts.map(String)], rows, c));
    }
  }

  const ref = report.reference;
  out.push("\n" + c.dim(`paper (27B model, 60 sublayers): composite Amax gain peaks near ${ref.hcAmaxGain} for HC (unconstrained) and ${ref.mhcAmaxGain} for mHC (Sinkhorn)`) + "\n");
  return out.join("");
}
