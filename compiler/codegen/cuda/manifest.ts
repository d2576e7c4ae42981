import type { CompileValue } from "../../lower/values.js";
import { SLOTS, type Slot } from "../../sema/checked.js";
import { entryPoints } from "./abi.js";
import { BLOCK_THREADS, FILL_BLOCKS, POST_WAVES, PRENORM_MMA_PRESPLIT_MIN_TILES, PRENORM_SPLIT_OVERHEAD_STEPS, PRENORM_TRAFFIC_DIV, TARGET_BLOCKS, coefTokens, prenormSimtConfig, type PrenormConfig } from "./knobs.js";
import { coefficientColumns, type ConnectionPlan } from "./plan.js";
import { postPreKernelManifest } from "./post-prenorm.js";
import { smallPrenormConfig, smallPrenormManifest } from "./small-prenorm.js";
import type { BackwardManifest } from "./backward/index.js";

/*
 * `manifest.json` of the CUDA target: what a loader, a binding or a test needs without
 * reading the generated code. Keys in a fixed order, lists in declaration order, so
 * `JSON.stringify` is deterministic.
 */

export interface CudaManifest {
  readonly format: "mhc-cuda";
  readonly formatVersion: 1;
  readonly abiVersion: 1;
  readonly compiler: { readonly name: "mhc-lang"; readonly version: string };
  readonly source: string;
  readonly connection: Record<string, unknown>;
  readonly files: { readonly source: string; readonly header: string; readonly library: string };
  readonly dtypes: Record<string, number>;
  readonly statusCodes: Record<string, number>;
  readonly parameters: readonly { readonly name: string; readonly shape: readonly (number | string)[]; readonly dtype: "f32" }[];
  readonly entryPoints: readonly unknown[];
  readonly workspace: Record<string, unknown>;
  readonly kernels: readonly unknown[];
  /** Entry points and kernels of the backward (backward/index.ts). */
  readonly backward?: BackwardManifest;
}

const STATUS = {
  MHC_OK: 0,
  MHC_ERR_NULL_POINTER: 1,
  MHC_ERR_BAD_SHAPE: 2,
  MHC_ERR_BAD_DTYPE: 3,
  MHC_ERR_MISALIGNED: 4,
  MHC_ERR_WORKSPACE_TOO_SMALL: 5,
  MHC_ERR_CUDA: 6,
  MHC_ERR_UNSUPPORTED: 7,
};

export function buildCudaManifest(plan: ConnectionPlan, options: { compilerVersion: string; source: string; fusePostPrenorm?: boolean }): CudaManifest {
  const info = plan.info;
  const maps = {} as Record<Slot, unknown>;
  for (const slot of SLOTS) {
    const m = plan.maps[slot];
    maps[slot] = {
      mode: m.info.mode,
      constraint: m.info.constraint,
      args: Object.fromEntries(m.info.args) as Record<string, CompileValue>,
      logitsShape: m.info.logitsShape,
      k: m.k,
      projection: m.column !== undefined,
      prenormColumns: m.column !== undefined ? [m.column, m.column + m.width] : null,
      init: m.info.initSource ?? null,
      initialBias: m.info.bias,
      function: { name: m.fn.name, irNodes: m.fn.nodeCount, usesLogits: m.fn.usesInput },
    };
  }
  const cfg = plan.prenorm;
  return {
    format: "mhc-cuda",
    formatVersion: 1,
    abiVersion: 1,
    compiler: { name: "mhc-lang", version: options.compilerVersion },
    source: options.source,
    connection: {
      name: info.name,
      symbol: plan.symbol,
      args: Object.fromEntries(info.args),
      n: plan.n,
      norm: info.norm,
      projection: info.projection,
      alpha: info.alpha,
      k: plan.k,
      // Per-stream projection: the prenorm GEMM has n rows of C values per token (absent: one row of n*C).
      ...(plan.rows > 1 ? { prenormRows: plan.rows } : {}),
      maps,
    },
    files: { source: `${plan.symbol}.cu`, header: `${plan.symbol}.h`, library: `lib${plan.symbol}.so` },
    dtypes: { MHC_DTYPE_F32: 0, MHC_DTYPE_BF16: 1 },
    statusCodes: STATUS,
    parameters: plan.parameters.map((p) => ({ name: p.name, shape: p.shape, dtype: "f32" as const })),
    entryPoints: entryPoints(plan).map((ep) => ({
      name: ep.name,
      returns: "int",
      doc: ep.doc,
      args: ep.args.map((a) => ({ name: a.name, ctype: a.ctype, role: a.role, ...(a.dtype ? { dtype: a.dtype } : {}), ...(a.shape ? { shape: a.shape } : {}), doc: a.doc })),
    })),
    workspace: {
      entryPoint: `mhc_${plan.symbol}_workspace_size`,
      formula: cfg
        ? `${[...(cfg.mma ? [cfg] : []), prenormSimtConfig(plan.k)].map((c) => `${splitFormula(c, plan)} (${c.mma ? "bf16" : cfg.mma ? "fp32" : "both dtypes"})`).join("; ")}; bytes = max over the plans of align256(S*${rowsOf(plan)}*${plan.k}*4) + align256(S*${rowsOf(plan)}*4)${cfg.mma && cfg.presplitStages > 0 ? `, the bf16 plan plus align256(${cfg.parts}*${plan.rows > 1 ? "C" : "n*C"}*${cfg.kp}*2) where ceil(${rowsOf(plan)} / ${cfg.tm}) >= ${PRENORM_MMA_PRESPLIT_MIN_TILES} (phi pre-split)` : ""}${smallWorkspaceFormula(plan)}`
        : "0 (no map has a projection)",
      alignment: 16,
    },
    kernels: [
      ...(cfg?.mma
        ? [
            {
              name: "prenorm_mma_kernel",
              item: 1,
              dtype: "bf16",
              threads: BLOCK_THREADS,
              tile: { tokens: cfg.tm, columns: cfg.kp, warps: [cfg.wm, cfg.wn], mmaTiles: [cfg.mt, cfg.nt], bk: cfg.bk, stages: cfg.stages, phiParts: cfg.parts },
              dynamicSharedMemory: cfg.smemBytes,
              grid: "[ceil(T / tokens), S]",
              // From minTiles token tiles on, phi is split once per call (split_phi_kernel) and the ring carries the parts.
              ...(cfg.presplitStages > 0 ? { presplit: { minTiles: PRENORM_MMA_PRESPLIT_MIN_TILES, stages: cfg.presplitStages, dynamicSharedMemory: cfg.presplitSmemBytes } } : {}),
            },
            ...(cfg.presplitStages > 0 ? [{ name: "split_phi_kernel", item: 1, dtype: "bf16", threads: BLOCK_THREADS, grid: `[ceil(${plan.rows > 1 ? "C" : "n*C"} * ${cfg.kp / 4} / ${BLOCK_THREADS})]` }] : []),
          ]
        : []),
      ...(cfg ? [simtKernel(prenormSimtConfig(plan.k), cfg.mma ? "f32" : "both")] : []),
      ...smallPrenormManifest(plan),
      {
        name: "coefficients_kernel",
        item: 2,
        threads: BLOCK_THREADS,
        maxTokensPerBlock: coefTokens(coefficientColumns(plan)).tokens,
        grid: "[ceil(T / tpb), channel slices]",
        // Lanes that compute one token's res constraint together (1: one thread per token; plan.ts resLanes).
        resLanesPerToken: plan.resLanes?.group ?? 1,
      },
      { name: "post_kernel", item: 3, threads: BLOCK_THREADS, grid: `[channel slices of <= ${BLOCK_THREADS} vectors, ceil(T / tpb)], tpb <= 8 tokens while the grid keeps >= ${POST_WAVES} * ${TARGET_BLOCKS} blocks` },
      ...postPreKernelManifest(plan, options.fusePostPrenorm),
    ],
  };
}

/** The workspace formula's small-T clause (none where the connection has no small-T path). */
function smallWorkspaceFormula(plan: ConnectionPlan): string {
  const c = smallPrenormConfig(plan);
  if (!c) return "";
  return `; where T <= ${c.maxT} (small-T prenorm, both dtypes) also S = ceil(C / chunk), chunk = clamp(roundup8(ceil(C / max(1, floor(${FILL_BLOCKS} / ceil(T / ${c.tokens}))))), 8, ${c.maxChunk}), and the larger bytes`;
}

/** The split-K plan of one prenorm kernel, as mhc_prenorm.cuh prenorm_split is called with it. */
function splitFormula(c: PrenormConfig, plan: ConnectionPlan): string {
  const k = plan.k;
  return `S = prenorm_split(${rowsOf(plan)}, ${plan.rows > 1 ? "C" : "n*C"}, tm=${c.tm}, bk=${c.bk}, slots=${c.blocksPerSm * FILL_BLOCKS}, min_steps=${c.minSteps}, K=${k}, traffic_div=${PRENORM_TRAFFIC_DIV}, overhead_steps=${PRENORM_SPLIT_OVERHEAD_STEPS}).splits`;
}

function simtKernel(c: PrenormConfig, dtype: "f32" | "both"): Record<string, unknown> {
  return { name: "prenorm_kernel", item: 1, dtype, threads: BLOCK_THREADS, tile: { tokens: c.tm, columns: c.kp, warps: [c.wm, c.wn], perLane: [c.rm, c.rn], bk: c.bk }, grid: "[ceil(T / tokens), S]" };
}

/** The prenorm GEMM's rows: T (flat projection) or T*n (per-stream). */
function rowsOf(plan: ConnectionPlan): string {
  return plan.rows > 1 ? "T*n" : "T";
}
