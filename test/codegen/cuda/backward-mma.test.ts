import { describe, expect, it } from "vitest";
import { BWD_MMA_MAX_K, bwdMmaChannels, bwdMmaRows, bwdMmaSmemBytes, bwdMmaStreamStride, prenormBackwardMma } from "../../../compiler/codegen/cuda/backward/knobs.js";
import { generateCuda, instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import { check } from "./helpers.js";

const tiny = check("examples/tiny.mhc");

function backwardSection(n: number): string {
  const out = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n }), { name: `mhc_n${n}` });
  const cu = out.files.get(`mhc_n${n}.cu`)!;
  return cu.slice(cu.indexOf("// ==== backward"));
}

describe("CUDA backward: the prenorm backward on tensor cores", () => {
  it("sizes its shared memory as mhc::BwdMmaLayout does: 256 rows a block (512 threads, one a SM) at n = 3, 4; 128 elsewhere", () => {
    // n = 4, 256 rows: 2 stages x (2 bf16 tiles 32 x (4 streams x (64 + 16) + 8) (x; dx_in or dy) + du 32 x (64 + 8) (bf16)
    // + G parts 3 x 32 x 40 (bf16) + s2 32 + H_pre 32 x 4 + H_res 32 x 16 (fp32) + the tensor-core mix's block-diagonal H_res^T
    // of 8 token groups, 2 bf16 parts of 16 rows of 24) + phi parts 2 x 256 x 40 (bf16)
    expect(bwdMmaSmemBytes(4, 24)).toBe(2 * (2 * 32 * 328 * 2 + 32 * 72 * 2 + 3 * 32 * 40 * 2 + 32 * 4 + 32 * 4 * 4 + 32 * 16 * 4 + 8 * 2 * 16 * 24 * 2) + 2 * 256 * 40 * 2);
    // n = 3 does not divide 16: the mix stays per element, no blocks, streams packed (240 live columns of 256)
    expect(bwdMmaSmemBytes(3, 15)).toBe(2 * (2 * 32 * 264 * 2 + 32 * 88 * 2 + 3 * 32 * 24 * 2 + 32 * 4 + 32 * 3 * 4 + 32 * 9 * 4) + 2 * 256 * 24 * 2);
    // n = 2, 128 rows (runs of 64 channels are whole cache lines already), streams 96 columns apart
    expect(bwdMmaSmemBytes(2, 8)).toBe(2 * (2 * 32 * 200 * 2 + 32 * 72 * 2 + 3 * 32 * 24 * 2 + 32 * 4 + 32 * 2 * 4 + 32 * 4 * 4 + 4 * 2 * 16 * 24 * 2) + 2 * 128 * 24 * 2);
    expect([1, 2, 3, 4, 5, 6, 8, 16].map(bwdMmaRows)).toEqual([128, 128, 256, 256, 128, 128, 128, 128]);
    // A block: every stream of rows / n channels, rounded down to whole 16-byte runs.
    expect([1, 2, 3, 4, 5, 6, 8, 16].map(bwdMmaChannels)).toEqual([128, 64, 80, 64, 24, 16, 16, 8]);
    // Stream starts in the x and dy tiles: padded where the mix runs on tensor cores (n = 2, 4, 8), packed elsewhere
    expect([1, 2, 3, 4, 5, 6, 8].map(bwdMmaStreamStride)).toEqual([128, 96, 80, 80, 24, 16, 24]);
    expect(prenormBackwardMma(4, 24)).toEqual({ rows: 256, threads: 512, smemBytes: bwdMmaSmemBytes(4, 24), blocksPerSm: 1, targetBlocks: 132 });
    expect(prenormBackwardMma(2, 8)).toEqual({ rows: 128, threads: 256, smemBytes: bwdMmaSmemBytes(2, 8), blocksPerSm: 2, targetBlocks: 264 });
    expect(prenormBackwardMma(8, 80)?.blocksPerSm).toBe(1);
    expect(prenormBackwardMma(16, 288)).toBeUndefined();
    expect(prenormBackwardMma(4, 0)).toBeUndefined();
    expect(BWD_MMA_MAX_K).toBeGreaterThanOrEqual(80);
  });

  it("places the streams so that the mix's and the token tiles' 8-row shared-memory accesses hit 8 different bank groups", () => {
    for (const n of [1, 2, 4, 8]) {
      const ss = bwdMmaStreamStride(n);
      const xs = n * ss + 8; // BwdMmaLayout::XS where the mix runs on tensor cores
      const unit = (col: number): number => Math.floor(col / 8) % 8; // 16-byte unit of a bf16 column, modulo 128 bytes
      // the mix's ldmatrix of dy: rows k = token-in-group * n + stream, 8 rows per matrix
      const mixRows = Array.from({ length: 8 }, (_, k) => unit(Math.floor(k / n) * xs + (k % n) * ss));
      expect(new Set(mixRows).size).toBe(8);
      // ldmatrix over 8 consecutive tokens of one column (dphi's x^T fragments)
      expect(new Set(Array.from({ length: 8 }, (_, t) => unit(t * xs))).size).toBe(8);
    }
  });

  it("is launched for bf16 up to n = 8 (SIMT kept for fp32 and as the fallback), not at n = 16", () => {
    for (const n of [1, 3, 4, 8]) {
      const section = backwardSection(n);
      expect(section).toContain('#include "mhc_bwd_mma.cuh"');
      // dy mixed in by the tensor-core kernel (true) when handed dy without dx_in, else dx_in added (false)
      expect(section).toContain("mhc::prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, true, PhiColumns>");
      expect(section).toContain("mhc::prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, false, PhiColumns>");
      expect(section).toContain("constexpr int BWD_MMA_N = N;");
      expect(section).toContain("if constexpr (std::is_same<TR, __nv_bfloat16>::value) {");
      expect(section).toContain("mix_dy = dy != nullptr && dx_in == nullptr;");
      expect(section).toContain("use_mma = mhc::prenorm_backward_mma_fits(C, x, du, mix_dy ? dy : dx_in, dx, h_pre, mix_dy ? h_res : nullptr);");
      // elsewhere the post's dx is formed first by one element-wise pass, which the kernels then add to
      expect(section).toContain("if (dy != nullptr && !mix_dy) {");
      expect(section).toContain("mhc::elementwise_dx_kernel<TR, N><<<mhc::grid_for(T * N * C, 256), 256, 0, stream>>>(h_res, dy, nullptr, nullptr, dx_in, dx, T, C);");
      // where n divides 16 the kernel's mix runs on tensor cores from block-diagonal H_res^T blocks made first
      if (16 % n === 0) {
        expect(section).toContain("mhc::mix_blocks_kernel<N><<<mhc::grid_for((T + 16 / N - 1) / (16 / N) * 256, 256), 256, 0, stream>>>(h_res, T, mix_blocks);");
        expect(section).toContain("l.mix_blocks = at; at += mhc::align256((size_t)((T + 16 / N - 1) / (16 / N)) * 2 * 256 * sizeof(__nv_bfloat16));");
      } else {
        expect(section).not.toContain("mix_blocks_kernel");
        expect(section).toContain("const __nv_bfloat16* mix_blocks = nullptr;");
      }
      expect(section).toContain("const dim3 grid_mma((unsigned)((C + BWD_MMA_CHANNELS - 1) / BWD_MMA_CHANNELS), (unsigned)cm.chunks);");
      // the SIMT kernels stay for fp32 x and for operands the tensor-core kernel does not take
      expect(section).toContain("mhc::prenorm_backward_kernel<true, TR, N, K");
      expect(section).toContain(`BWD_MMA_SMEM_BYTES = ${bwdMmaSmemBytes(n, n * n + 2 * n)}`);
    }
    const kernels = (n: number): string[] =>
      (generateCuda(tiny, instantiateConnection(tiny, "mhc", { n }), { name: `mhc_n${n}` }).manifest.backward!.kernels as { name: string }[]).map((k) => k.name);
    expect(kernels(4)).toContain("prenorm_backward_mma_kernel");
    expect(kernels(4)).toContain("split_g_kernel");
    expect(kernels(16)).not.toContain("prenorm_backward_mma_kernel");
    const n16 = backwardSection(16);
    expect(n16).not.toContain("prenorm_backward_mma_kernel");
    expect(n16).not.toContain("mhc_bwd_mma.cuh");
    expect(n16).toContain("mhc::prenorm_backward_kernel<true, TR, N, K");
    expect(n16).toMatch(/if \(dy != nullptr\) \{\n\s*mhc::elementwise_dx_kernel<TR, N><<</);
  });

  it("refuses dy given as dx itself (each dx element mixes every stream of dy) and dy without h_res", () => {
    const cu = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 4 }), { name: "mhc_n4" }).files.get("mhc_n4.cu")!;
    expect(cu).toContain("if (dy != nullptr && h_res == nullptr) return MHC_ERR_NULL_POINTER;");
    expect(cu).toContain("if (dy != nullptr && dy == dx) return MHC_ERR_UNSUPPORTED;");
  });

  it("tells callers (manifest, binding) where pre_backward mixes the post's dy itself, so post_backward leaves dx out only there", () => {
    const gen = (n: number) => generateCuda(tiny, instantiateConnection(tiny, "mhc", { n }), { name: `mhc_n${n}` });
    const n4 = gen(4);
    expect(n4.manifest.backward!.dyToPreBackward).toEqual({ dtype: "bf16", cMultipleOf: 8, alignment: 16 });
    const py4 = n4.files.get("mhc_n4_torch.py")!;
    expect(py4).toContain("DY_TO_PRE_C_MULTIPLE = 8");
    expect(py4).toContain("    if link.dy is None and _pre_mixes_dy(x):");
    expect(py4).toContain("want_dx=not mix)");
    const n16 = gen(16);
    expect(n16.manifest.backward!.dyToPreBackward).toBeNull();
    // per-stream (HC): tensor cores, but the mix couples rows the kernel treats as separate
    const hc = generateCuda(tiny, instantiateConnection(tiny, "hc", { n: 4 }), { name: "hc_n4" });
    expect((hc.manifest.backward!.kernels as { name: string }[]).map((k) => k.name)).toContain("prenorm_backward_mma_kernel");
    expect(hc.manifest.backward!.dyToPreBackward).toBeNull();
    expect(hc.files.get("hc_n4_torch.py")!).toContain("DY_TO_PRE_C_MULTIPLE = None");
    expect(n16.files.get("mhc_n16_torch.py")!).toContain("DY_TO_PRE_C_MULTIPLE = None");
  });

  it("sizes the dphi partials for the larger chunk count of the two kernels, and splits G once into bf16 parts", () => {
    const section = backwardSection(4);
    expect(section).toContain("l.g_parts = at; at += mhc::align256((size_t)3 * T * BWD_MMA_KP16 * sizeof(__nv_bfloat16));");
    expect(section).toContain("mhc::split_g_kernel<K, BWD_MMA_KP16><<<");
    expect(section).toContain("at += mhc::align256((size_t)bwd_dphi_chunks(T, C) * (size_t)N * (size_t)C * K * sizeof(float));");
    expect(section).toContain("const int64_t a = bwd_chunks(T, C).chunks, b = bwd_chunks_mma(T, C).chunks;");
  });
});
