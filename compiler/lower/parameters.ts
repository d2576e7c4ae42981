import type { Dim } from "../ir/shape.js";
import { mulDims } from "../ir/shape.js";
import type { CheckedConnection, CheckedMap, Slot } from "../sema/checked.js";
import { SLOTS } from "../sema/checked.js";
import * as P from "../sema/poly.js";

/** A learned tensor of a connection, with its pinned name (design.md §2.3). */
export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly Dim[];
}

/** The index of each map in `alpha` (`[3]`: pre, post, res). */
export const ALPHA_INDEX: Readonly<Record<Slot, number>> = { pre: 0, post: 1, res: 2 };

/** A map gets a projection `phi` only when it is dynamic and its constraint reads its logits. */
export function hasProjection(map: CheckedMap): boolean {
  return map.mode !== "static" && map.usesLogits;
}

export function concreteInt(p: P.Poly, what: string): number {
  const value = P.constantValue(p);
  if (value === undefined) throw new Error(`${what} is not known at compile time`);
  return value;
}

/**
 * The parameters of one connection, in the pinned order: `phi_pre`,
 * `phi_post`, `phi_res` (only for maps with a projection), `alpha [3]`,
 * `bias_pre`, `bias_post`, `bias_res` (`[k]`, row-major for matrices).
 * `phi` is `[n*C, k]` for `projection flat` and `[C, k/n]` for `per_stream`.
 */
export function connectionParameters(conn: CheckedConnection, hidden: Dim = "C"): ParameterSpec[] {
  const n = concreteInt(conn.streams, "the stream count");
  const out: ParameterSpec[] = [];
  for (const slot of SLOTS) {
    const map = conn.maps[slot];
    if (!hasProjection(map)) continue;
    const k = concreteInt(map.k, `the logits of ${slot}`);
    out.push({ name: `phi_${slot}`, shape: conn.projection === "flat" ? [mulDims(n, hidden), k] : [hidden, k / n] });
  }
  out.push({ name: "alpha", shape: [3] });
  for (const slot of SLOTS) out.push({ name: `bias_${slot}`, shape: [concreteInt(conn.maps[slot].k, `the logits of ${slot}`)] });
  return out;
}
