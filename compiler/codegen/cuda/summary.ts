import { backwardMma } from "./backward/source.js";
import { PRENORM_MMA_PRESPLIT_MIN_TILES } from "./knobs.js";
import type { ConnectionPlan } from "./plan.js";

/**
 * What a connection's kernels will do, for `mhc compile --target cuda` to print (manifest.json has
 * the tilings and the rest): a title line, then the prenorm GEMM's path per residual dtype and from
 * how many tokens phi is split once per call, how the res constraint is spread over the threads,
 * and the prenorm backward's path.
 */
export function kernelSummary(plan: ConnectionPlan): string[] {
  const lines = [`${plan.symbol} (n = ${plan.n}, ${plan.k} prenorm column${plan.k === 1 ? "" : "s"})`];
  const cfg = plan.prenorm;
  if (!cfg) {
    lines.push("  prenorm GEMM: none (no map has a projection)");
  } else if (cfg.mma) {
    // The pre-split starts at a number of the GEMM's rows: T * n rows for a per-stream projection.
    const from = cfg.presplitStages > 0 ? `; phi split once per call from ${Math.ceil((cfg.tm * PRENORM_MMA_PRESPLIT_MIN_TILES) / plan.rows)} tokens` : "";
    lines.push(`  prenorm GEMM: tensor cores for bf16 (${cfg.tm}-row tiles${from}), SIMT for fp32`);
  } else {
    lines.push("  prenorm GEMM: SIMT");
  }
  const lanes = plan.resLanes;
  lines.push(`  res constraint: ${lanes ? `groups of ${lanes.group} lanes per token` : "one thread per token"}`);
  if (plan.k > 0) lines.push(`  prenorm backward: ${backwardMma(plan) ? "tensor cores for bf16 where C % 8 == 0 and rows are 16-byte aligned, else SIMT" : "SIMT"}`);
  return lines;
}
