import type { GainStats } from "./composite-gain.js";
import type { Summary } from "./metrics.js";

/**
 * The laboratory's report: every number `mhc lab` computes, as written to
 * `report.json`. The schema is versioned by `schema`; fields are only ever
 * added within one version.
 *
 * JSON cannot hold NaN or infinities: `reportToJson` writes them as the
 * strings "NaN", "Infinity" and "-Infinity" (`parseReportJson` turns them back
 * into numbers), so a non-finite value is never lost or silently nulled.
 * Key order is fixed and nothing in the report depends on the clock or the
 * machine: the same file, options and seed give a byte-identical report.
 */
export const REPORT_SCHEMA = "mhc-lab/1";

export interface LabSettings {
  /** Stream count: matrices are n x n. */
  readonly n: number;
  /** Layers per composite chain. */
  readonly depth: number;
  /** Random logits per constraint and scale for the one-layer metrics and gradients. */
  readonly samples: number;
  /** Independent chains for the composite gain (each of `depth` fresh matrices). */
  readonly chains: number;
  readonly seed: number;
  /** Logits are standard Gaussian times each scale. */
  readonly scales: readonly number[];
  /** Iteration counts of the `iters`/`steps` sweep, run at `iterationScale`. */
  readonly iterationCounts: readonly number[];
  readonly iterationScale: number;
  /** `--set` values, applied to every constraint that has the parameter. */
  readonly settings: Readonly<Record<string, number | boolean>>;
}

/** What the composite gain of one constraint at one scale came to. */
export interface GainReport {
  readonly depth: number;
  readonly chains: number;
  /** Forward Amax gain at the final depth: max_i |row sum i| of H_depth ... H_1, over chains. */
  readonly forward: GainStats;
  /** Backward Amax gain at the final depth: max_j |column sum j|. */
  readonly backward: GainStats;
  /** Mean over chains after 1, 2, ..., depth layers (index d - 1 is depth d). */
  readonly curve: {
    readonly forward: readonly number[];
    readonly backward: readonly number[];
    readonly log10Forward: readonly number[];
    readonly log10Backward: readonly number[];
  };
}

export interface ScaleReport {
  readonly scale: number;
  /** Non-finite values among the outputs H and among the gradients (both must be 0). */
  readonly nonFinite: { readonly outputs: number; readonly gradients: number };
  /** Where the first non-finite value was, when there was one (`index` is [sample, ...element]). */
  readonly firstNonFinite?: { readonly in: "H" | "grad_L"; readonly value: "NaN" | "Infinity" | "-Infinity"; readonly index: readonly number[] };
  /** Smallest and largest finite entry of H over all samples. */
  readonly range: { readonly min: number; readonly max: number };
  /** |d sum(H * G) / dL| (Frobenius) for a random unit-norm G per sample, via the IR's autodiff. */
  readonly gradientNorm: Summary;
  /** Matrix constraints only: per-sample max_i |row sum - 1|, summarised over samples. */
  readonly rowError?: Summary;
  /** Matrix constraints only: per-sample max_j |column sum - 1|. */
  readonly colError?: Summary;
  /** Matrix constraints only: the largest singular value per sample. */
  readonly spectralNorm?: Summary;
  /** Matrix constraints only. */
  readonly gain?: GainReport;
}

export interface IterationPoint {
  /** The value given to the `iters`/`steps` parameter. */
  readonly count: number;
  readonly rowError?: Summary;
  readonly colError?: Summary;
  readonly nonFinite?: number;
  /** Why this count was not run (the constraint rejects it). */
  readonly skipped?: string;
}

export interface IterationReport {
  readonly parameter: string;
  readonly scale: number;
  readonly points: readonly IterationPoint[];
}

export type ConstraintKind = "matrix" | "vector" | "tensor";

export interface ConstraintReport {
  readonly name: string;
  /** Where it is declared: a path relative to the working directory, or `<prelude>`. */
  readonly declaredIn: string;
  /** `matrix`: an [n, n] result (every metric); `vector`, `tensor`: range and gradients only. */
  readonly kind: ConstraintKind;
  /** Declared `L: tensor`: evaluated on [n, n] logits. */
  readonly polymorphic: boolean;
  /** Every compile-time parameter's value in this run (defaults and `--set`). */
  readonly args: Readonly<Record<string, number | boolean>>;
  /** Per sample. */
  readonly logitsShape: readonly number[];
  readonly resultShape: readonly number[];
  readonly scales: readonly ScaleReport[];
  /** Present for matrix constraints with an integer `iters` or `steps` parameter. */
  readonly iterations?: IterationReport;
}

export interface LabReport {
  readonly schema: typeof REPORT_SCHEMA;
  readonly generator: { readonly tool: "mhc lab"; readonly version: string };
  /** The .mhc file, as given on the command line. */
  readonly file: string;
  readonly settings: LabSettings;
  /** The paper's Amax gain of the composite map (27B model, 60 sublayers; mHC §3.1, §5.4, Fig. 3b/7b). */
  readonly reference: { readonly hcAmaxGain: number; readonly mhcAmaxGain: number; readonly source: string };
  readonly constraints: readonly ConstraintReport[];
  /** Totals over every constraint and scale (and the iteration sweep's outputs). */
  readonly nonFinite: { readonly outputs: number; readonly gradients: number };
}

export const PAPER_REFERENCE = {
  hcAmaxGain: 3000,
  mhcAmaxGain: 1.6,
  source: "Xie et al., mHC, arXiv 2512.24880, §3.1 and §5.4 (Fig. 3b, 7b): peak composite Amax gain in the 27B model, about 3000 for HC and 1.6 for mHC",
} as const;

/** `report.json`: two-space indented, non-finite numbers as strings, trailing newline. */
export function reportToJson(report: LabReport): string {
  return (
    JSON.stringify(
      report,
      (_key, value: unknown) => {
        if (typeof value === "number" && !Number.isFinite(value)) return String(value);
        if (value instanceof Float64Array) return Array.from(value);
        return value;
      },
      2,
    ) + "\n"
  );
}

/** Fields that hold real strings (a constraint may well be called `NaN`). */
const STRING_KEYS = new Set(["schema", "tool", "version", "file", "source", "name", "declaredIn", "kind", "parameter", "skipped"]);

/** Reads `report.json` back, restoring "NaN" / "Infinity" / "-Infinity" to numbers. */
export function parseReportJson(text: string): LabReport {
  return JSON.parse(text, (key, value: unknown) => {
    if (STRING_KEYS.has(key)) return value;
    if (value === "NaN") return NaN;
    if (value === "Infinity") return Infinity;
    if (value === "-Infinity") return -Infinity;
    return value;
  }) as LabReport;
}
