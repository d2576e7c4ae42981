import type { CheckResult } from "../../../driver.js";
import type { CheckedConnection } from "../../../sema/checked.js";
import type { ConnectionPlan } from "../plan.js";
import type { SourceOptions } from "../source.js";
import { backwardEntryPoints, statsWidth } from "./abi.js";
import { BWD_COEF_TOKENS, BWD_MMA_STAGES, BWD_MMA_TOKENS, bwdMmaChannels, prenormBackwardTokens } from "./knobs.js";
import { planBackward, type BackwardPlan } from "./plan.js";
import { backwardCudaSection, backwardHeaderSection, backwardMixesDy, backwardMma, backwardMmaStreams } from "./source.js";

export { backwardEntryPoints, statsWidth } from "./abi.js";
export { constraintGradientGraph } from "./constraint-gradient.js";
export { planBackward, type BackwardPlan, type MapGradient } from "./plan.js";

/** manifest.json's `backward` section: entry points printed from backward/abi.ts, the stats row, the kernels. */
export interface BackwardManifest {
  readonly entryPoints: readonly unknown[];
  readonly stats: { readonly entryPoint: string; readonly shape: readonly (number | string)[]; readonly columns: string };
  readonly workspace: { readonly entryPoint: string; readonly alignment: 16 };
  readonly kernels: readonly unknown[];
  /**
   * Where pre_backward's tensor-core kernel forms the post's H_res^T dy itself, so a caller gains by
   * calling post_backward with dx = NULL and handing dy and h_res to pre_backward (elsewhere that costs
   * one more pass: pre_backward forms it first with elementwise_dx_kernel). Null: nowhere.
   */
  readonly dyToPreBackward: { readonly dtype: "bf16"; readonly cMultipleOf: 8; readonly alignment: 16 } | null;
}

export interface BackwardOutput {
  readonly plan: BackwardPlan;
  /** Text appended to `<symbol>.cu` and to `<symbol>.h`. */
  readonly cuda: string;
  readonly header: string;
  readonly manifest: BackwardManifest;
}

function manifestSection(plan: ConnectionPlan, bw: BackwardPlan): BackwardManifest {
  const sym = plan.symbol;
  const mma = backwardMma(plan);
  const mixesDy = backwardMixesDy(plan);
  return {
    entryPoints: backwardEntryPoints(plan).map((ep) => ({
      name: ep.name,
      returns: "int",
      doc: ep.doc,
      args: ep.args.map((a) => ({ name: a.name, ctype: a.ctype, role: a.role, ...(a.dtype ? { dtype: a.dtype } : {}), ...(a.shape ? { shape: a.shape } : {}), doc: a.doc })),
    })),
    stats: { entryPoint: `mhc_${sym}_save_stats`, shape: ["T", statsWidth(plan)], columns: plan.rows > 1 ? `for each stream i < ${plan.rows}: proj[i, 0..${plan.k}), sum of squares of stream i` : `proj[0..${plan.k}), sum of squares` },
    workspace: { entryPoint: `mhc_${sym}_backward_workspace_size`, alignment: 16 },
    // A per-stream projection's kernel sees one stream per row: the mix is formed before it, not inside.
    dyToPreBackward: mixesDy ? { dtype: "bf16", cMultipleOf: 8, alignment: 16 } : null,
    kernels: [
      { name: "stats_kernel", item: 5, does: "the forward's split-K partials summed in order into stats [T, K + 1]" },
      { name: "post_backward_kernel", item: 5, does: "df, per-slice dH partials and dx (unless dx is NULL: pre_backward is then handed dy and h_res), one block per (token, channel slice)" },
      { name: "premix_backward_kernel", item: 5, does: "per-slice <du, x_i> partials of dH_pre" },
      { name: "coefficients_backward_kernel", item: 5, threads: BWD_COEF_TOKENS, does: "the constraints' reverse mode per token (forward recomputed), G = dproj, s2, parameter terms", irNodes: Object.fromEntries(Object.entries(bw.maps).map(([s, m]) => [s, m.fn.nodeCount])) },
      { name: "parameter_gradients_kernel", item: 5, does: "alpha and bias gradients, block rows summed in order" },
      ...(mma
        ? [
            { name: "split_g_kernel", item: 5, does: "bf16 residual: G split once into three bf16 parts [3, T, KP16] for the tensor-core kernel" },
            ...(mixesDy?.tensorCores
              ? [{ name: "mix_blocks_kernel", item: 5, does: "when pre_backward is handed dy: H_res^T as block-diagonal 16 x 16 bf16 blocks (hi, lo) per 16 / n tokens, for the tensor-core kernel's mix" }]
              : []),
            {
              name: "prenorm_backward_mma_kernel",
              item: 5,
              rowsPerBlock: mma.rows,
              threads: mma.threads,
              channelsPerBlock: bwdMmaChannels(backwardMmaStreams(plan)),
              tokensPerTile: BWD_MMA_TOKENS,
              stages: BWD_MMA_STAGES,
              smemBytes: mma.smemBytes,
              blocksPerSm: mma.blocksPerSm,
              does: "bf16 residual (C % 8 == 0, 16-byte aligned): dx = (dx_in or H_res^T dy) + H_pre du + G phi^T + s2 x and dphi partials x^T G per token chunk, both in one pass over x on tensor cores; a block owns every stream of channelsPerBlock channels",
            },
          ]
        : []),
      ...(plan.k > 0 ? [{ name: "elementwise_dx_kernel", item: 5, does: "dx = dx_in + H_res^T dy when pre_backward is handed dy and the tensor-core kernel does not mix it itself" }] : []),
      ...(plan.k > 0 ? [{ name: "prenorm_backward_kernel<true>", item: 5, sharedTokens: prenormBackwardTokens(plan.k), does: `dx = dx_in + H_pre du + G phi^T + s2 x${mma ? " (fp32 residual, or operands the tensor-core kernel does not take)" : ""}` }, { name: "prenorm_backward_kernel<false>", item: 5, sharedTokens: prenormBackwardTokens(plan.k), does: "dphi partials x^T G per token chunk, one pass over x per column pass" }, { name: "dphi_reduce_kernel", item: 5, does: "dphi partials summed over token chunks in order" }] : [{ name: "elementwise_dx_kernel", item: 5, does: "dx = dx_in + H_res^T dy (when handed dy) + H_pre du, one pass" }]),
    ],
  };
}

/** The backward of one connection: its plan, the texts appended to the forward's `.cu` (`forwardCuda`) and `.h`, and the manifest section. */
export function generateBackward(result: CheckResult, conn: CheckedConnection, plan: ConnectionPlan, options: SourceOptions, forwardCuda: string): BackwardOutput {
  const bw = planBackward(result, conn, plan);
  return { plan: bw, cuda: backwardCudaSection(plan, bw, options, forwardCuda), header: backwardHeaderSection(plan), manifest: manifestSection(plan, bw) };
}
