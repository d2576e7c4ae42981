import type { CheckResult } from "../../driver.js";
import { buildConstraintGraph } from "../../lower/constraint-graph.js";
import type { ParameterSpec } from "../../lower/parameters.js";
import { OPTIMIZATION_PIPELINE, runPipeline } from "../../passes/pipeline.js";
import type { CheckedConnection, Slot } from "../../sema/checked.js";
import { SLOTS } from "../../sema/checked.js";
import { connectionInfo, type ConnectionInfo, type MapInfo } from "../tfjs/connection-info.js";
import { CudaCodegenError, emitConstraintFunction, type ConstraintFunction } from "./emit-constraint.js";
import { prenormConfig, type PrenormConfig } from "./knobs.js";

/** One map of a connection as the CUDA target sees it. */
export interface MapPlan {
  readonly slot: Slot;
  readonly info: MapInfo;
  /** Logits (projection columns when the map has a projection). */
  readonly k: number;
  /** First column of this map in the concatenated prenorm output, when it has a projection. */
  readonly column?: number;
  readonly fn: ConstraintFunction;
}

/** Everything the source, header and manifest generators need about one connection. */
export interface ConnectionPlan {
  /** The C identifier used in symbol names (`mhc_<symbol>_pre`). */
  readonly symbol: string;
  readonly info: ConnectionInfo;
  readonly n: number;
  readonly maps: Readonly<Record<Slot, MapPlan>>;
  /** Columns of the prenorm GEMM (sum of k over maps with a projection); 0: no GEMM. */
  readonly k: number;
  readonly prenorm?: PrenormConfig;
  readonly parameters: readonly ParameterSpec[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Lowers each map's constraint to a per-token graph (batch `[]`, fp32), runs the
 * optimisation pipeline on it and emits its device function; lays out the prenorm
 * columns as [phi_pre | phi_post | phi_res] over the maps that have a projection.
 * Rejects, with a CudaCodegenError, what this slice of the target does not implement.
 */
export function planConnection(result: CheckResult, conn: CheckedConnection, symbol: string = conn.name): ConnectionPlan {
  if (!IDENT.test(symbol)) throw new CudaCodegenError(`\`${symbol}\` is not a C identifier`);
  if (conn.norm.kind === "rms_stream") throw new CudaCodegenError(`connection \`${conn.name}\`: \`norm rms_stream\` is not implemented by the CUDA target yet (use \`rms\` or \`none\`)`);
  if (conn.projection === "per_stream") throw new CudaCodegenError(`connection \`${conn.name}\`: \`projection per_stream\` is not implemented by the CUDA target yet (use \`flat\`)`);
  const info = connectionInfo(result.checked, result.sources, conn);
  const n = info.n;
  if (n < 1 || n > 16) throw new CudaCodegenError(`connection \`${conn.name}\`: the CUDA target supports 1 to 16 streams, not ${n}`);
  const expected: Record<Slot, number> = { pre: n, post: n, res: n * n };
  const maps = {} as Record<Slot, MapPlan>;
  let column = 0;
  for (const slot of SLOTS) {
    const map = conn.maps[slot];
    const mi = info.maps[slot];
    const g = buildConstraintGraph(result.checked, map.constraint, n, new Map(mi.args), mi.logitsShape, { batch: [], dtype: "f32" });
    const graph = runPipeline(g.graph, OPTIMIZATION_PIPELINE);
    const args = mi.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ");
    const fn = emitConstraintFunction(graph, {
      name: `constraint_${slot}`,
      sources: result.sources,
      title: `${slot}: ${mi.mode} ${mi.constraint}(${args}) at n = ${n}`,
    });
    const size = fn.outputShape.reduce((a, b) => a * b, 1);
    if (size !== expected[slot]) throw new CudaCodegenError(`connection \`${conn.name}\`: the ${slot} constraint returns [${fn.outputShape.join(", ")}], expected ${expected[slot]} values`);
    maps[slot] = { slot, info: mi, k: mi.k, ...(mi.projection ? { column } : {}), fn };
    if (mi.projection) column += mi.k;
  }
  return { symbol, info, n, maps, k: column, ...(column > 0 ? { prenorm: prenormConfig(column) } : {}), parameters: info.parameters };
}
