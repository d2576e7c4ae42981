/*
 * The tolerances `mhc verify` applies, the same as scripts/gpu/verify_forward.py
 * (design.md 6): with scale = max |reference| of the output,
 *   - coefficients (fp32) and fp32 residual outputs: max |out - ref| <= 1e-5 * scale;
 *   - bf16 residual outputs (u, y): every element |out - ref| <= 2^-8 |ref| + 1e-5 * scale,
 *     one bf16 rounding of the exact value.
 * A non-finite output always fails.
 */

export const RELATIVE_TOLERANCE = 1e-5;
export const BF16_ROUNDING = 2 ** -8;

export type ToleranceRule = "fp32" | "bf16";

export interface OutputCheck {
  readonly output: string;
  readonly rule: ToleranceRule;
  readonly elements: number;
  readonly maxAbs: number;
  /** max |out - ref| / max |ref|. */
  readonly maxRel: number;
  /** Elements outside the elementwise bf16 bound (0 under the fp32 rule). */
  readonly violations: number;
  readonly nonFinite: number;
  readonly ok: boolean;
}

/** Compares one output with its float64 reference under `rule`. */
export function checkOutput(output: string, got: ArrayLike<number>, reference: ArrayLike<number>, rule: ToleranceRule): OutputCheck {
  if (got.length !== reference.length) throw new Error(`${output}: ${got.length} values against ${reference.length} reference values`);
  let scale = 0;
  for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i] as number));
  const norm = scale > 0 ? scale : 1;
  let maxAbs = 0;
  let violations = 0;
  let nonFinite = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i] as number;
    const r = reference[i] as number;
    if (!Number.isFinite(g)) {
      nonFinite++;
      continue;
    }
    const diff = Math.abs(g - r);
    if (diff > maxAbs) maxAbs = diff;
    if (rule === "bf16" && diff > BF16_ROUNDING * Math.abs(r) + RELATIVE_TOLERANCE * norm) violations++;
  }
  const maxRel = maxAbs / norm;
  const ok = nonFinite === 0 && (rule === "bf16" ? violations === 0 : maxRel <= RELATIVE_TOLERANCE);
  return { output, rule, elements: got.length, maxAbs, maxRel, violations, nonFinite, ok };
}

/** The bound of a rule, as a report prints it. */
export function describeRule(rule: ToleranceRule): string {
  return rule === "bf16" ? "|d| <= 2^-8 |ref| + 1e-5 max|ref|" : "max|d| <= 1e-5 max|ref|";
}
