import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateCuda, instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import { PRENORM_MMA_SMEM_ONE_BLOCK, PRENORM_MMA_SMEM_TWO_BLOCKS } from "../../../compiler/codegen/cuda/knobs.js";
import { POST_PRENORM_FUSED, postPrenormConfig, postPrenormSmemBytes, postPrenormTiling } from "../../../compiler/codegen/cuda/post-prenorm.js";
import { compileCuda, findNvcc, requireNvccInCi } from "../../helpers/nvcc.js";
import { check, root } from "./helpers.js";

const tiny = check("examples/tiny.mhc");

interface Arg {
  readonly name: string;
  readonly ctype: string;
  readonly role: string;
  readonly shape?: readonly (number | string)[];
}
interface Entry {
  readonly name: string;
  readonly args: readonly Arg[];
}

function mhcAt(n: number, fusePostPrenorm = true, name = `mhc_n${n}`) {
  return generateCuda(tiny, instantiateConnection(tiny, "mhc", { n }), { name, compilerVersion: "test", fusePostPrenorm });
}

describe("CUDA target: post of sublayer l with the pre of sublayer l + 1 (design 4.2 item 4), fused kernel on", () => {
  const out = mhcAt(4);
  const entries = out.manifest.entryPoints as readonly Entry[];
  const byName = new Map(entries.map((e) => [e.name, e]));

  it("states both entry points in the manifest, arguments in ABI order", () => {
    const ws = byName.get("mhc_mhc_n4_post_pre_workspace_size");
    expect(ws?.args.map((a) => a.name)).toEqual(["T", "C", "bytes"]);
    const pp = byName.get("mhc_mhc_n4_post_pre");
    expect(pp?.args.map((a) => a.name)).toEqual([
      "x", "f", "dtype", "T", "C", "h_post", "h_res",
      "phi_pre", "phi_post", "phi_res", "alpha", "bias_pre", "bias_post", "bias_res",
      "y", "h_pre_next", "h_post_next", "h_res_next", "u_next", "stats_next", "workspace", "workspace_bytes", "stream",
    ]);
    const arg = (name: string): Arg => pp!.args.find((a) => a.name === name)!;
    expect(arg("y")).toMatchObject({ ctype: "void*", role: "output", shape: ["T", 4, "C"] });
    expect(arg("h_res")).toMatchObject({ ctype: "const float*", role: "input", shape: ["T", 4, 4] });
    expect(arg("h_res_next")).toMatchObject({ ctype: "float*", role: "output", shape: ["T", 4, 4] });
    expect(arg("stats_next")).toMatchObject({ ctype: "float*", role: "output", shape: ["T", 25] });
    expect(arg("workspace").role).toBe("workspace");
  });

  it("prints their prototypes in the header and their definitions in the source", () => {
    const h = out.files.get("mhc_n4.h")!;
    expect(h).toContain("int mhc_mhc_n4_post_pre_workspace_size(int64_t T, int64_t C, size_t* bytes);");
    expect(h).toMatch(/int mhc_mhc_n4_post_pre\(const void\* x, const void\* f, int dtype, int64_t T, int64_t C, const float\* h_post, const float\* h_res, const float\* phi_pre, [^)]*float\* stats_next, void\* workspace, size_t workspace_bytes, cudaStream_t stream\);/);
    const cu = out.files.get("mhc_n4.cu")!;
    expect(cu).toContain('extern "C" int mhc_mhc_n4_post_pre(const void* x,');
    expect(cu).toContain("mhc::post_prenorm_mma_kernel<N, K, PP_WN, PP_NT, PP_WM, PP_MT, PP_BC, PP_MK, PP_STAGES, PP_PARTS, PP_L2_PREFETCH, PP_BLOCKS_PER_SM, Phi>;");
    // the coefficient kernel runs unchanged on y and the fused partials, reading nothing of y before its wait
    expect(cu).toContain("st = launch_coefficients<__nv_bfloat16>(y, T, C, sp.splits, proj_part, ss_part, alpha, bias_pre, bias_post, bias_res, h_pre_next, h_post_next, h_res_next, u_next, false, stream);");
    // fp32: post, then pre (the same kernels as the two entry points)
    expect(cu).toContain("st = mhc_mhc_n4::launch_post<float>(");
    expect(cu).toContain("return mhc_mhc_n4_save_stats(dtype, T, C, workspace, workspace_bytes, stats_next, stream);");
  });

  it("tiles n = 4 as 128 tokens x 32 channels of the 4 streams (128 rows, 64-byte runs of each row) in a 3-deep ring", () => {
    const k = (out.manifest.kernels as { name: string; tile?: Record<string, unknown>; dynamicSharedMemory?: number }[]).find((x) => x.name === "post_prenorm_mma_kernel");
    expect(k?.tile).toMatchObject({ tokens: 128, columns: 24, channelsPerStep: 32, bk: 128, mmaChunk: 64, stages: 3, phiParts: 3 });
    expect(k?.dynamicSharedMemory).toBe(postPrenormSmemBytes(4, 128, 24, 32, 3, 3));
    expect(k?.dynamicSharedMemory).toBeLessThanOrEqual(PRENORM_MMA_SMEM_ONE_BLOCK);
  });

  it("chooses a tile that fits for n = 1..8 and falls back to post then pre where none does (n = 16)", () => {
    for (const n of [1, 2, 3, 4, 6, 8]) {
      const c = postPrenormTiling(mhcAt(n).plan);
      expect(c, `n = ${n}`).toBeDefined();
      expect(c!.bk).toBe(n * c!.bc);
      expect(c!.bk % c!.mk).toBe(0);
      expect(c!.mk % 32).toBe(0);
      expect(c!.bc * 2, `n = ${n}: runs of at least 32 bytes`).toBeGreaterThanOrEqual(32);
      expect(c!.bc % 8).toBe(0);
      expect(c!.kp).toBeGreaterThanOrEqual(2 * n + n * n);
      expect(c!.smemBytes).toBeLessThanOrEqual(c!.blocksPerSm === 2 ? PRENORM_MMA_SMEM_TWO_BLOCKS : PRENORM_MMA_SMEM_ONE_BLOCK);
    }
    const n16 = mhcAt(16);
    expect(postPrenormTiling(n16.plan)).toBeUndefined();
    expect((n16.manifest.kernels as { name: string }[]).some((x) => x.name === "post_prenorm_mma_kernel")).toBe(false);
    const cu = n16.files.get("mhc_n16.cu")!;
    expect(cu).toContain("// No fused kernel for this connection (its tile does not fit shared memory): post, then pre.");
    expect(cu).not.toContain("launch_post_pre_fused");
    expect(n16.manifest.entryPoints.map((e) => (e as Entry).name)).toContain("mhc_mhc_n16_post_pre");
  });

  it("is off by default (measured slower than post then pre): post_pre is then post, then pre, for both dtypes", () => {
    expect(POST_PRENORM_FUSED).toBe(false);
    const off = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 4 }), { name: "mhc_n4", compilerVersion: "test" });
    expect(postPrenormConfig(off.plan)).toBeUndefined();
    expect(postPrenormTiling(off.plan)).toBeDefined();
    const cu = off.files.get("mhc_n4.cu")!;
    expect(cu).toContain("// No fused kernel for this connection (off: post-prenorm.ts POST_PRENORM_FUSED, CudaOptions.fusePostPrenorm): post, then pre.");
    expect(cu).not.toContain("post_prenorm_mma_kernel<");
    expect(cu).toContain("st = mhc_mhc_n4::launch_post<__nv_bfloat16>(");
    expect((off.manifest.kernels as { name: string }[]).some((x) => x.name === "post_prenorm_mma_kernel")).toBe(false);
    // the ABI does not depend on the option
    expect(off.manifest.entryPoints).toEqual(out.manifest.entryPoints);
    expect(off.files.get("mhc_n4.h")).toBe(out.files.get("mhc_n4.h"));
  });

  it("a connection without a projection still has the entry points (post, then the coefficient kernel alone)", () => {
    const residual = generateCuda(tiny, "residual", { compilerVersion: "test", fusePostPrenorm: true });
    expect(residual.plan.k).toBe(0);
    const cu = residual.files.get("residual.cu")!;
    expect(cu).toContain('extern "C" int mhc_residual_post_pre(');
    expect(cu).toContain("(void)stats_next;  // no projection: the backward needs no stats");
  });

  it("binds Module.post_pre and the fused autograd function in the PyTorch binding", () => {
    const py = out.files.get("mhc_n4_torch.py")!;
    expect(py).toContain('    "post_pre": ("mhc_mhc_n4_post_pre", (');
    expect(py).toContain("    def post_pre(self, x, f, state, next_module):");
    expect(py).toContain("class _PostPre(torch.autograd.Function):");
    expect(py).toContain("    def forward(ctx, lib, link, link_next, x, f, h_post, h_res, *params):");
    // backward: the pre backward of l + 1 (taking dy and the joined post's dx), then the post backward of l
    // The pre of l + 1 is handed what its joined post left (dy, h_res: it forms that post's dx itself); then the post of l,
    // whose own dx is left to the pre of l when they are joined.
    expect(py).toMatch(/gy, grads = _run_pre_backward\(ctx\.lib, y, params, stats, h_pre_next, du, [^\n]*dx_in, dy_next, h_res_next\)\n\s+dx, df, dh_post_l, dh_res_l = _post_backward_linked\(ctx\.lib, ctx\.link, x, f, h_post, h_res, gy\)/);
    expect(py).toContain("def recompute_block(modules, fns, x, segment=None, fuse=True):");
    expect(py).toContain("        return self.fuse and l + 1 < len(self.modules) and (l + 1) not in self.first");
  });

  it("recompute_block's default segments: ceil(sqrt(L)) of them, the last of one sublayer (python3, no torch needed)", () => {
    const py = out.files.get("mhc_n4_torch.py")!;
    const start = py.indexOf("def _segment_starts(");
    const fn = py.slice(start, py.indexOf("\n\n\n", start)); // the function alone, up to the blank lines after it
    const script = [
      "import json, math",
      fn,
      "cases = {L: _segment_starts(L) for L in (1, 2, 3, 9, 12, 16, 24)}",
      "cases['16 by 4'] = _segment_starts(16, 4)",
      "bad = []",
      "for s in (0, -1, 2.0, True):",
      "    try:",
      "        _segment_starts(16, s)",
      "    except ValueError:",
      "        bad.append(repr(s))",
      "cases['refused'] = bad",
      "print(json.dumps({str(k): v for k, v in cases.items()}))",
    ].join("\n");
    const run = spawnSync("python3", ["-c", script], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual({
      "1": [0],
      "2": [0, 1],
      "3": [0, 2],
      "9": [0, 4, 8],
      "12": [0, 4, 8, 11],
      "16": [0, 5, 10, 15],
      "24": [0, 6, 12, 18, 23],
      "16 by 4": [0, 4, 8, 12],
      refused: ["0", "-1", "2.0", "True"],
    });
  });
});

const nvcc = findNvcc();
requireNvccInCi(nvcc);

describe.skipIf(!nvcc)("CUDA target: nvcc compiles the fused post + prenorm kernel (off by default, so not in the other compile tests)", () => {
  it("mhc at n = 4 with fusePostPrenorm, to PTX", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "mhc-post-pre-"));
    try {
      const out = mhcAt(4);
      for (const [path, text] of out.files) if (!path.endsWith(".json")) writeFileSync(join(dir, path), text);
      const r = await compileCuda(nvcc!, root, dir, "mhc_n4.cu", { mode: "ptx", defines: ["MHC_NO_BACKWARD"] });
      expect(r.code, `nvcc failed on ${join(dir, r.file)}\ncommand: ${r.command}\n${r.log}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
