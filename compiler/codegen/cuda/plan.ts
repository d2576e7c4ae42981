import type { CheckResult } from "../../driver.js";
import type { Graph } from "../../ir/graph.js";
import { buildConstraintGraph } from "../../lower/constraint-graph.js";
import type { ParameterSpec } from "../../lower/parameters.js";
import { OPTIMIZATION_PIPELINE, runPipeline } from "../../passes/pipeline.js";
import type { CheckedConnection, Slot } from "../../sema/checked.js";
import { SLOTS } from "../../sema/checked.js";
import { connectionInfo, type ConnectionInfo, type MapInfo } from "../tfjs/connection-info.js";
import { CudaCodegenError, emitConstraintFunction, type ConstraintFunction } from "./emit-constraint.js";
import { emitConstraintLanes, type LaneConstraintFunction } from "./emit-constraint-lanes.js";
import { COEF_LANE_GROUP_MIN_N, prenormConfig, type PrenormConfig } from "./knobs.js";

/** One map of a connection as the CUDA target sees it. */
export interface MapPlan {
  readonly slot: Slot;
  readonly info: MapInfo;
  /** Logits. */
  readonly k: number;
  /**
   * Columns of this map in one prenorm row: k for `projection flat`, k / n for `per_stream`
   * (each stream's row is projected by the shared phi [C, k/n]).
   */
  readonly width: number;
  /** First column of this map in the concatenated prenorm row, when it has a projection. */
  readonly column?: number;
  readonly fn: ConstraintFunction;
  /** The per-token constraint graph `fn` was emitted from (after the pipeline), for other emitters (emit-constraint-lanes.ts). */
  readonly graph?: Graph;
}

/** Everything the source, header and manifest generators need about one connection. */
export interface ConnectionPlan {
  /** The C identifier used in symbol names (`mhc_<symbol>_pre`). */
  readonly symbol: string;
  readonly info: ConnectionInfo;
  readonly n: number;
  readonly maps: Readonly<Record<Slot, MapPlan>>;
  /** Columns of the prenorm GEMM (sum of the widths of the maps with a projection); 0: no GEMM. */
  readonly k: number;
  /**
   * Prenorm rows per token: 1 for `projection flat` (row t: xf[t] of n*C values), n for
   * `per_stream` (row t*n + i: stream i's C values). The GEMM, its split-K partials and the
   * backward's G and s2 are per row; the coefficient kernels gather a token's rows.
   */
  readonly rows: number;
  readonly prenorm?: PrenormConfig;
  /**
   * The res constraint on a group of n lanes per token (emit-constraint-lanes.ts), where it applies: from
   * COEF_LANE_GROUP_MIN_N streams at powers of two, when the lane emitter has a form for every node of the
   * graph. Absent: the per-thread `maps.res.fn`, one thread per token. Chosen here, at generation time.
   */
  readonly resLanes?: LaneConstraintFunction;
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
  const info = connectionInfo(result.checked, result.sources, conn);
  const n = info.n;
  if (n < 1 || n > 16) throw new CudaCodegenError(`connection \`${conn.name}\`: the CUDA target supports 1 to 16 streams, not ${n}`);
  const perStream = conn.projection === "per_stream";
  // A per-stream norm of a flat projection has no meaning in the IR (sublayer-graph.ts rejects it too).
  if (conn.norm.kind === "rms_stream" && !perStream && SLOTS.some((s) => info.maps[s].projection)) {
    throw new CudaCodegenError(`connection \`${conn.name}\`: \`norm rms_stream\` normalises each stream on its own and needs \`projection per_stream\``);
  }
  const expected: Record<Slot, number> = { pre: n, post: n, res: n * n };
  const maps = {} as Record<Slot, MapPlan>;
  let column = 0;
  for (const slot of SLOTS) {
    const map = conn.maps[slot];
    const mi = info.maps[slot];
    const g = buildConstraintGraph(result.checked, map.constraint, n, new Map(mi.args), mi.logitsShape, { batch: [], dtype: "f32" });
    const graph = runPipeline(g.graph, OPTIMIZATION_PIPELINE);
    const fn = emitConstraintFunction(graph, {
      name: `constraint_${slot}`,
      sources: result.sources,
      title: `${slot}: ${mi.mode} ${mi.constraint}(${argText(mi)}) at n = ${n}`,
      reroll: true,
    });
    const size = fn.outputShape.reduce((a, b) => a * b, 1);
    if (size !== expected[slot]) throw new CudaCodegenError(`connection \`${conn.name}\`: the ${slot} constraint returns [${fn.outputShape.join(", ")}], expected ${expected[slot]} values`);
    if (perStream && mi.projection && mi.k % n !== 0) throw new CudaCodegenError(`connection \`${conn.name}\`: ${slot} has ${mi.k} logits, not a multiple of the ${n} streams of its per-stream projection`);
    const width = perStream ? mi.k / n : mi.k;
    maps[slot] = { slot, info: mi, k: mi.k, width, ...(mi.projection ? { column } : {}), fn, graph };
    if (mi.projection) column += width;
  }
  const rows = perStream && column > 0 ? n : 1;
  const resLanes = resLaneFunction(n, maps.res, result);
  return { symbol, info, n, maps, k: column, rows, ...(column > 0 ? { prenorm: prenormConfig(column) } : {}), ...(resLanes ? { resLanes } : {}), parameters: info.parameters };
}

/** A map's constraint arguments as the generated comments print them. */
function argText(mi: MapInfo): string {
  return mi.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ");
}

/** ConnectionPlan.resLanes: the res map's constraint on n lanes per token, or undefined where it does not apply. */
function resLaneFunction(n: number, res: MapPlan, result: CheckResult): LaneConstraintFunction | undefined {
  if (n < COEF_LANE_GROUP_MIN_N || n > 32 || (n & (n - 1)) !== 0 || !res.graph) return undefined;
  const m = res.info;
  const emitted = emitConstraintLanes(res.graph, { name: "constraint_res_lanes", group: n, sources: result.sources, title: `res: ${m.mode} ${m.constraint}(${argText(m)}) at n = ${n}, on ${n} lanes per token`, reroll: true });
  return emitted.ok ? emitted.fn : undefined;
}

/** Split-K sums the coefficient kernel holds per token (rows x (K + 1)), less one: the argument of knobs.ts coefTokens. */
export function coefficientColumns(plan: ConnectionPlan): number {
  return plan.rows * (plan.k + 1) - 1;
}

/**
 * Where logit l of a projected map comes from in a per-stream projection (sublayer-graph.ts):
 * stream `row`'s projection, column `col` of the map's width. A square matrix map [n, n] is
 * transposed (stream i drives column i, H[:, i]); any other map reads the [n, k/n]
 * projections row-major.
 */
export function perStreamSource(plan: ConnectionPlan, m: MapPlan): { readonly row: string; readonly col: string } {
  const square = m.info.logitsShape.length === 2 && m.k === plan.n * plan.n;
  if (m.width === 1) return { row: "l", col: "0" };
  return square ? { row: "l % N", col: "l / N" } : { row: `l / ${m.width}`, col: `l % ${m.width}` };
}
