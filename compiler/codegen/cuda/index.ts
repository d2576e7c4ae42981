import { torchBindingSource } from "./torch-binding.js";
import type { CheckResult } from "../../driver.js";
import type { CheckedConnection } from "../../sema/checked.js";
import type { Slot } from "../../sema/checked.js";
import { entryDisplayPath } from "../tfjs/index.js";
import { CudaCodegenError } from "./emit-constraint.js";
import { buildCudaManifest, type CudaManifest } from "./manifest.js";
import { planConnection, type ConnectionPlan } from "./plan.js";
import { cudaSource, headerSource } from "./source.js";
import { generateBackward } from "./backward/index.js";

export { CudaCodegenError, emitConstraintFunction, floatLiteral, type ConstraintFunction } from "./emit-constraint.js";
export { CUDA_TEMPLATES } from "./templates.js";
export { torchBindingSource } from "./torch-binding.js";
export { instantiateConnection } from "./instantiate.js";
export { planConnection, type ConnectionPlan } from "./plan.js";
export * as CUDA_KNOBS from "./knobs.js";

export interface CudaOptions {
  readonly compilerVersion?: string;
  /** Symbol name used in file names and entry points (`mhc_<name>_pre`); default the connection's name. */
  readonly name?: string;
  /** mhc_<name>_post_pre on the fused post + prenorm kernel where it applies (default post-prenorm.ts POST_PRENORM_FUSED: off). */
  readonly fusePostPrenorm?: boolean;
}

export interface CudaOutput {
  /** `<name>.cu`, `<name>.h`, `manifest.json`, `<name>_torch.py` (the PyTorch binding), in that order. */
  readonly files: Map<string, string>;
  readonly manifest: CudaManifest;
  readonly plan: ConnectionPlan;
}

/**
 * The CUDA target for one connection (design.md 4.2, kernels 1-3): the `.cu` with the
 * generated constraint functions, the kernels, the launchers and the extern "C" entry
 * points; its C header; and `manifest.json`. The sources include `mhc_runtime.cuh`
 * and `mhc.h` from runtime/cuda. Deterministic: byte-identical for the same input.
 * Throws CudaCodegenError for what this target does not implement yet (n > 16,
 * norm rms_stream with a flat projection).
 */
export function generateCuda(result: CheckResult, connection: CheckedConnection | string, options: CudaOptions = {}): CudaOutput {
  const conn = typeof connection === "string" ? result.checked.connections.get(connection) : connection;
  if (!conn) throw new CudaCodegenError(`no connection \`${String(connection)}\` checked with its defaults`);
  const plan = planConnection(result, conn, options.name ?? conn.name);
  const compilerVersion = options.compilerVersion ?? "0.0.0";
  const source = entryDisplayPath(result);
  const mapSpans: Record<Slot, { file: string; start: number }> = { pre: conn.maps.pre.span, post: conn.maps.post.span, res: conn.maps.res.span };
  const fusePostPrenorm = options.fusePostPrenorm;
  const srcOptions = { compilerVersion, source, sources: result.sources, declSpan: conn.decl.span, mapSpans, ...(fusePostPrenorm !== undefined ? { fusePostPrenorm } : {}) };
  const files = new Map<string, string>();
  const forward = cudaSource(plan, srcOptions);
  // The backward (design.md 4.2 item 5) is appended to the same translation unit and header.
  const backward = generateBackward(result, conn, plan, srcOptions, forward);
  files.set(`${plan.symbol}.cu`, forward + backward.cuda);
  files.set(`${plan.symbol}.h`, headerSource(plan, srcOptions) + backward.header);
  const manifest: CudaManifest = { ...buildCudaManifest(plan, { compilerVersion, source, ...(fusePostPrenorm !== undefined ? { fusePostPrenorm } : {}) }), backward: backward.manifest };
  files.set("manifest.json", JSON.stringify(manifest, null, 2) + "\n");
  files.set(`${plan.symbol}_torch.py`, torchBindingSource(manifest));
  return { files, manifest, plan };
}
