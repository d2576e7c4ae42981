import { Builder } from "../ir/builder.js";
import type { DType } from "../ir/dtype.js";
import { Graph } from "../ir/graph.js";
import { IrError } from "../ir/errors.js";
import type { Node } from "../ir/node.js";
import { mulDims, type Dim } from "../ir/shape.js";
import type { CheckedConnection, CheckedMap, Slot } from "../sema/checked.js";
import { SLOTS } from "../sema/checked.js";
import type { CheckedProgram } from "../sema/index.js";
import { constraintResolver } from "./constraint-graph.js";
import { lowerConstraintBody } from "./lower-expr.js";
import { ALPHA_INDEX, concreteInt, connectionParameters, hasProjection, type ParameterSpec } from "./parameters.js";
import { fromCompileValue, type Lowered } from "./values.js";

export interface SublayerGraphOptions {
  /** The hidden size: symbolic `C` by default, bound from the input when interpreted. */
  readonly hidden?: Dim;
  readonly dtype?: DType;
  /** `identity`: F(u) = u (what `mhc run` computes); `input`: the graph takes `f [T, C]`. */
  readonly sublayer?: "identity" | "input";
}

export interface SublayerGraph {
  readonly graph: Graph;
  readonly n: number;
  readonly parameters: readonly ParameterSpec[];
}

/**
 * One mHC sublayer in the IR, exactly design.md §1: the norm of the residual,
 * the projections, alpha and bias, the three constraints, the pre-mix
 * `u = H_pre x`, and the post/res mix `y = H_res x + H_post f`.
 *
 * Inputs: `x [T, n, C]`, the connection's parameters, and `f [T, C]` unless the
 * sublayer is the identity. Outputs: `y`, `u`, `H_pre [T, n]`, `H_post [T, n]`,
 * `H_res [T, n, n]` (indexed `[out, in]`).
 */
export function buildSublayerGraph(checked: CheckedProgram, conn: CheckedConnection, options: SublayerGraphOptions = {}): SublayerGraph {
  const n = concreteInt(conn.streams, "the stream count");
  const C = options.hidden ?? "C";
  const b = new Builder(new Graph(), { dtype: options.dtype ?? "f64" });
  const x = b.input("x", ["T", n, C]);
  const parameters = connectionParameters(conn, C);
  const inputs = new Map<string, Node>(parameters.map((p) => [p.name, b.input(p.name, p.shape)]));
  const param = (name: string): Node => {
    const node = inputs.get(name);
    if (!node) throw new IrError(`sublayer graph: no parameter ${name}`);
    return node;
  };

  // r[t] = sqrt(mean(xf[t]^2) + eps): over all n*C values (`rms`) or per stream (`rms_stream`).
  const eps = conn.norm.eps;
  const xf = b.reshape(x, ["T", mulDims(n, C)]);
  const rms = (v: Node) => b.sqrt(b.add(b.mean(b.square(v), [-1], true), eps));
  const rFlat = conn.norm.kind === "rms" ? rms(xf) : undefined; // [T, 1]
  const rStream = conn.norm.kind === "rms_stream" ? rms(x) : undefined; // [T, n, 1]

  const projection = (slot: Slot, map: CheckedMap): Node => {
    const k = concreteInt(map.k, `the logits of ${slot}`);
    const phi = param(`phi_${slot}`);
    if (conn.projection === "flat") {
      let proj = b.matmul(xf, phi); // [T, k]
      if (rFlat) proj = b.div(proj, rFlat);
      if (rStream) throw new IrError("`norm rms_stream` needs `projection per_stream`");
      return proj;
    }
    // per_stream: each stream is projected by the shared theta [C, k/n].
    let proj = b.matmul(x, phi); // [T, n, k/n]
    if (rStream) proj = b.div(proj, rStream);
    if (rFlat) proj = b.div(proj, b.reshape(rFlat, ["T", 1, 1]));
    // Stream i drives column i of a matrix map (H_res[:, i]), as HC's A_r^T does;
    // vector maps take one logit per stream.
    const square = map.logitsShape.length === 2 && k === n * n;
    return b.reshape(square ? b.mT(proj) : proj, ["T", k]);
  };

  const coefficients = {} as Record<Slot, Node>;
  for (const slot of SLOTS) {
    const map = conn.maps[slot];
    const logitsShape = map.logitsShape.map((d, i) => concreteInt(d, `dimension ${i} of the logits of ${slot}`));
    const bias = param(`bias_${slot}`);
    let logits: Lowered;
    if (hasProjection(map)) {
      let proj = projection(slot, map);
      if (map.mode === "dynamic tanh") proj = b.tanh(proj);
      const alpha = b.slice(param("alpha"), 0, ALPHA_INDEX[slot], ALPHA_INDEX[slot] + 1);
      const flat = b.add(b.mul(proj, alpha), bias); // [T, k]
      logits = { kind: "tensor", node: b.reshape(flat, ["T", ...logitsShape]), batched: true, rank: logitsShape.length };
    } else {
      logits = { kind: "tensor", node: b.reshape(bias, logitsShape), batched: false, rank: logitsShape.length };
    }
    const args = new Map<string, Lowered>([[map.constraint.logits.name, logits]]);
    for (const [name, v] of map.args) {
      if (v.kind === "int") args.set(name, fromCompileValue(concreteInt(v.value, name)));
      else if ((v.kind === "float" || v.kind === "bool") && v.value !== undefined) args.set(name, fromCompileValue(v.value));
    }
    const result = lowerConstraintBody(b.at(map.span), map.constraint, n, args, 1, constraintResolver(checked));
    if (result.kind !== "tensor") throw new IrError(`${slot}: the constraint returned a compile-time value`);
    coefficients[slot] = result.batched ? result.node : b.broadcastTo(result.node, ["T", ...result.node.shape]);
  }

  // u[t] = sum_i H_pre[t, i] x[t, i, :]
  const u = b.reshape(b.matmul(b.reshape(coefficients.pre, ["T", 1, n]), x), ["T", C]);
  const f = options.sublayer === "input" ? b.input("f", ["T", C]) : u;
  // y[t, j, :] = sum_i H_res[t, j, i] x[t, i, :] + H_post[t, j] f[t, :]
  const y = b.add(b.matmul(coefficients.res, x), b.mul(b.reshape(coefficients.post, ["T", n, 1]), b.reshape(f, ["T", 1, C])));

  b.graph.output("y", y);
  b.graph.output("u", u);
  b.graph.output("H_pre", coefficients.pre);
  b.graph.output("H_post", coefficients.post);
  b.graph.output("H_res", coefficients.res);
  return { graph: b.graph, n, parameters };
}
