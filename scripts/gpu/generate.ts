/*
 * Writes the CUDA sources the GPU verification and benchmark compile, into
 * scripts/gpu/generated/ (git-ignored; carry it to the GPU machine):
 *
 *   generated/<variant>/<variant>.cu, <variant>.h, manifest.json   (generateCuda)
 *   generated/<variant>/sublayer.json   the whole sublayer in the IR (float64,
 *                                       `f` an input): the reference verify_forward.py
 *                                       interprets with torch, so every constraint,
 *                                       user-defined ones included, has a reference
 *   generated/runtime/                  a copy of runtime/cuda (mhc.h, include/*.cuh)
 *   generated/variants.json             the list, with n, k and the parameter shapes
 *
 * Usage (repo root): npx tsx scripts/gpu/generate.ts [--only name,name] [--fuse-post-prenorm]
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateCuda, instantiateConnection } from "../../compiler/codegen/cuda/index.js";
import { checkFiles, type CheckResult } from "../../compiler/driver.js";
import { buildSublayerGraph } from "../../compiler/lower/sublayer-graph.js";
import type { CompileValue } from "../../compiler/lower/values.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// MHC_GPU_GEN: another output folder (build.sh and mhc_gpu.py read the same variable).
const outDir = process.env["MHC_GPU_GEN"] || join(root, "scripts", "gpu", "generated");

interface Variant {
  readonly symbol: string;
  readonly file: string;
  readonly connection: string;
  readonly args: Readonly<Record<string, CompileValue>>;
  /** Shapes verify_forward.py runs (the default grid when absent). */
  readonly grid?: "full" | "small";
}

const VARIANTS: Variant[] = [
  ...[1, 2, 3, 4, 6, 8, 16].map((n) => ({ symbol: `mhc_n${n}`, file: "examples/tiny.mhc", connection: "mhc", args: { n }, grid: "full" as const })),
  { symbol: "mhc_lite_n4", file: "examples/tiny.mhc", connection: "mhc_lite", args: { n: 4 }, grid: "small" },
  { symbol: "residual", file: "examples/tiny.mhc", connection: "residual", args: {}, grid: "small" },
  { symbol: "ortho_n4", file: "scripts/gpu/connections.mhc", connection: "gpu_ortho", args: { n: 4 }, grid: "small" },
  { symbol: "sinkhorn_log_n4", file: "scripts/gpu/connections.mhc", connection: "gpu_sinkhorn_log", args: { n: 4 }, grid: "small" },
  { symbol: "tempered_n4", file: "scripts/gpu/connections.mhc", connection: "gpu_tempered", args: { n: 4 }, grid: "small" },
  { symbol: "lazy_n3", file: "scripts/gpu/connections.mhc", connection: "gpu_lazy", args: { n: 3 }, grid: "small" },
  { symbol: "mixed_n4", file: "scripts/gpu/connections.mhc", connection: "gpu_mixed", args: { n: 4 }, grid: "small" },
  { symbol: "hc_flat_n4", file: "examples/torch/connections.mhc", connection: "hc_flat", args: { n: 4 }, grid: "small" },
  // The gated collapse of examples/torch (a connection whose pre alone is used).
  { symbol: "gated_head_n4", file: "examples/torch/connections.mhc", connection: "gated_head", args: { n: 4 }, grid: "small" },
  // Hyper-Connections as the prelude writes them: norm rms_stream, projection per_stream.
  ...[3, 4].map((n) => ({ symbol: `hc_n${n}`, file: "examples/hc-baseline.mhc", connection: "hc", args: { n }, grid: "small" as const })),
  { symbol: "stream_rms_n4", file: "scripts/gpu/connections.mhc", connection: "gpu_stream_rms", args: { n: 4 }, grid: "small" },
  { symbol: "stream_none_n3", file: "scripts/gpu/connections.mhc", connection: "gpu_stream_none", args: { n: 3 }, grid: "small" },
  // Large n (the res map on lane groups, knobs.ts COEF_LANE_GROUP_MIN_N): one per constraint family and code path.
  { symbol: "ortho_n8", file: "scripts/gpu/connections.mhc", connection: "gpu_ortho", args: { n: 8 }, grid: "small" },
  { symbol: "sinkhorn_log_n16", file: "scripts/gpu/connections.mhc", connection: "gpu_sinkhorn_log", args: { n: 16 }, grid: "small" },
  { symbol: "tempered_n8", file: "scripts/gpu/connections.mhc", connection: "gpu_tempered", args: { n: 8 }, grid: "small" },
  { symbol: "lazy_n16", file: "scripts/gpu/connections.mhc", connection: "gpu_lazy", args: { n: 16 }, grid: "small" },
  { symbol: "mixed_n8", file: "scripts/gpu/connections.mhc", connection: "gpu_mixed", args: { n: 8 }, grid: "small" },
  { symbol: "stream_rms_n8", file: "scripts/gpu/connections.mhc", connection: "gpu_stream_rms", args: { n: 8 }, grid: "small" },
];

function graphJson(result: CheckResult, conn: Parameters<typeof buildSublayerGraph>[1]): unknown {
  const { graph } = buildSublayerGraph(result.checked, conn, { sublayer: "input", dtype: "f64" });
  return {
    nodes: graph.nodes.map((node) => ({ id: node.id, op: node.op, inputs: node.inputs.map((i) => i.id), attrs: node.attrs, shape: node.shape, dtype: node.dtype })),
    outputs: Object.fromEntries(graph.outputs.map((o) => [o.name, o.node.id])),
  };
}

function main(): void {
  const only = process.argv.includes("--only") ? new Set((process.argv[process.argv.indexOf("--only") + 1] ?? "").split(",")) : undefined;
  // --fuse-post-prenorm: mhc_<v>_post_pre on the fused post + prenorm kernel (off by default, post-prenorm.ts).
  const fusePostPrenorm = process.argv.includes("--fuse-post-prenorm");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  cpSync(join(root, "runtime", "cuda"), join(outDir, "runtime"), { recursive: true });
  const checks = new Map<string, CheckResult>();
  const index: unknown[] = [];
  for (const v of VARIANTS) {
    if (only && !only.has(v.symbol)) continue;
    let result = checks.get(v.file);
    if (!result) {
      result = checkFiles([join(root, v.file)], { cwd: root });
      if (result.errorCount > 0) throw new Error(`${v.file}: ${result.diagnostics.map((d) => d.message).join("; ")}`);
      checks.set(v.file, result);
    }
    const conn = instantiateConnection(result, v.connection, v.args);
    const out = generateCuda(result, conn, { name: v.symbol, compilerVersion: "gpu-check", ...(fusePostPrenorm ? { fusePostPrenorm } : {}) });
    const dir = join(outDir, v.symbol);
    mkdirSync(dir, { recursive: true });
    for (const [path, text] of out.files) writeFileSync(join(dir, path), text);
    writeFileSync(join(dir, "sublayer.json"), JSON.stringify(graphJson(result, conn)) + "\n");
    const m = out.manifest;
    index.push({
      symbol: v.symbol,
      connection: v.connection,
      file: v.file,
      args: v.args,
      n: out.plan.n,
      k: out.plan.k,
      grid: v.grid ?? "small",
      norm: out.plan.info.norm,
      parameters: m.parameters,
      initialBias: Object.fromEntries((["pre", "post", "res"] as const).map((s) => [s, out.plan.maps[s].info.bias])),
      projection: Object.fromEntries((["pre", "post", "res"] as const).map((s) => [s, out.plan.maps[s].column !== undefined])),
      constraints: Object.fromEntries((["pre", "post", "res"] as const).map((s) => [s, out.plan.maps[s].info.constraint])),
      alpha: out.plan.info.alpha,
    });
    process.stdout.write(`${v.symbol}: n = ${out.plan.n}, K = ${out.plan.k}\n`);
  }
  writeFileSync(join(outDir, "variants.json"), JSON.stringify(index, null, 2) + "\n");
  process.stdout.write(`wrote ${index.length} variants to ${outDir}\n`);
}

main();
