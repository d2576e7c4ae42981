import type { CheckResult } from "../../../driver.js";
import { buildConstraintGraph } from "../../../lower/constraint-graph.js";
import type { CheckedConnection, Slot } from "../../../sema/checked.js";
import { SLOTS } from "../../../sema/checked.js";
import { emitConstraintFunction, type ConstraintFunction } from "../emit-constraint.js";
import type { ConnectionPlan } from "../plan.js";
import { constraintGradientGraph } from "./constraint-gradient.js";

/** One map's backward: the reverse mode of its constraint as a device function. */
export interface MapGradient {
  readonly slot: Slot;
  /** `NAME(const float (&A)[kL + kH], float (&D)[kL])`: A = [logits, dH], D = dL. */
  readonly fn: ConstraintFunction;
  /** Logits (kL) and result values (kH). */
  readonly logits: number;
  readonly result: number;
}

export interface BackwardPlan {
  readonly maps: Readonly<Record<Slot, MapGradient>>;
  /**
   * Per-token parameter-gradient terms, in order: alpha [3], bias_pre, bias_post,
   * bias_res; `offsets[slot]` is where the slot's bias terms start.
   */
  readonly paramTerms: number;
  readonly offsets: Readonly<Record<Slot, number>>;
}

/**
 * The backward of each map: its constraint graph (the same lowering the forward uses,
 * batch [], fp32) differentiated by the IR's reverse-mode autodiff, optimised, and
 * emitted with the forward's templates as `constraint_<slot>_grad`.
 */
export function planBackward(result: CheckResult, conn: CheckedConnection, plan: ConnectionPlan): BackwardPlan {
  const maps = {} as Record<Slot, MapGradient>;
  const offsets = {} as Record<Slot, number>;
  let at = 3;
  for (const slot of SLOTS) {
    const mi = plan.maps[slot].info;
    const g = buildConstraintGraph(result.checked, conn.maps[slot].constraint, plan.n, new Map(mi.args), mi.logitsShape, { batch: [], dtype: "f32" });
    const grad = constraintGradientGraph(g.graph);
    const args = mi.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ");
    const fn = emitConstraintFunction(grad.graph, {
      name: `constraint_${slot}_grad`,
      sources: result.sources,
      title: `${slot}: reverse mode of ${mi.constraint}(${args}) at n = ${plan.n}: [logits (${grad.logits}), dH (${grad.result})] -> dlogits`,
    });
    maps[slot] = { slot, fn, logits: grad.logits, result: grad.result };
    offsets[slot] = at;
    at += plan.maps[slot].k;
  }
  return { maps, paramTerms: at, offsets };
}
