import { ALPHA_INDEX } from "../../../lower/parameters.js";
import { SLOTS } from "../../../sema/checked.js";
import { prototype, type EntryPoint } from "../abi.js";
import { LINE_RESTORE, indent } from "../emit-constraint.js";
import { BLOCK_THREADS } from "../knobs.js";
import { perStreamSource, type ConnectionPlan } from "../plan.js";
import { perStreamNorm } from "../coefficient-kernel.js";
import type { SourceOptions } from "../source.js";
import { backwardEntryPoints, statsWidth } from "./abi.js";
import {
  BWD_COEF_TOKENS,
  BWD_MIN_CHANNELS,
  BWD_MIN_TOKENS,
  BWD_MMA_STAGES,
  BWD_MMA_TOKENS,
  BWD_PRENORM_TARGET_BLOCKS,
  BWD_TARGET_BLOCKS,
  BWD_TOKEN_TILE,
  prenormBackwardColumns,
  prenormBackwardMma,
  prenormBackwardTokens,
  postBackwardRows,
  postBackwardVector,
} from "./knobs.js";
import type { BackwardPlan } from "./plan.js";

/*
 * The backward section of `<symbol>.cu` (design.md 4.2 item 5), appended to the forward's
 * translation unit: it reuses the forward's constants (N, K, NORM_EPS), its split-K plans
 * (to read the forward's partials) and its error reporting. Kernels:
 *   B0 stats_kernel                    the forward's split-K sums kept for the backward (save_stats)
 *   B1 post_backward_kernel (+ reduce) df, dH_post, dH_res, and dx unless it is left to B5 (mhc_bwd.cuh)
 *   B2 premix_backward_kernel          dH_pre += <du, x_i> partials       (mhc_bwd.cuh)
 *   B3 coefficients_backward_kernel    generated: the constraints' reverse mode per token
 *   B4 parameter_gradients_kernel      generated: alpha and bias gradients, blocks summed in order
 *   B5 prenorm_backward_mma_kernel (+ reduce) dx and dphi, both GEMMs in one pass over x, on tensor
 *      cores (bf16 residual, mhc_bwd_mma.cuh), which also mixes the post's dy into dx when handed it;
 *      otherwise prenorm_backward_kernel, dx then dphi, after elementwise_dx_kernel for dy (mhc_bwd.cuh)
 */

function lineDirective(options: SourceOptions, span: { readonly file: string; readonly start: number } | undefined): string[] {
  if (!span) return [];
  const file = options.sources.get(span.file);
  if (!file) return [];
  return [`#line ${file.positionAt(span.start).line} ${JSON.stringify(span.file)}`];
}

/** The prenorm operand phi[r, col] over [phi_pre | phi_post | phi_res] (maps with a projection), read in place. */
function phiColumns(plan: ConnectionPlan): string[] {
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const lines = ["// phi[r, col] of the concatenated prenorm columns, read in place (the backward's copy of the forward's operand).", "struct PhiColumns {"];
  for (const s of withProj) lines.push(`const float* ${s};`);
  lines.push("__device__ __forceinline__ float operator()(int64_t r, int col) const {");
  withProj.forEach((s, i) => {
    const m = plan.maps[s];
    const c0 = m.column as number;
    const expr = `__ldg(${s} + r * ${m.width} + ${c0 === 0 ? "col" : `(col - ${c0})`})`;
    lines.push(i === withProj.length - 1 ? `return ${expr};` : `if (col < ${c0 + m.width}) return ${expr};`);
  });
  lines.push("}", "};");
  return lines;
}

/** s2[i] = 2 d(ss_i) of a per-stream projection's rows, from d(1/r_i) (rms_stream) or their sum (rms, one r). */
function perStreamS2(norm: "rms" | "rms_stream" | "none"): string[] {
  if (norm === "rms_stream") return ["#pragma unroll", "for (int i = 0; i < N; ++i) s2[i] = -drinv[i] * rinv[i] * rinv[i] * rinv[i] / (float)C;"];
  if (norm === "rms") {
    return [
      "// one r over all N*C values: ss = sum_i ss_i, so every row gets the same s2",
      "float d = 0.0f;",
      "#pragma unroll",
      "for (int i = 0; i < N; ++i) d += drinv[i];",
      "const float s2_all = -d * rinv[0] * rinv[0] * rinv[0] / ((float)N * (float)C);",
      "#pragma unroll",
      "for (int i = 0; i < N; ++i) s2[i] = s2_all;",
    ];
  }
  return ["(void)drinv;", "#pragma unroll", "for (int i = 0; i < N; ++i) s2[i] = 0.0f;  // norm none: no sum of squares in the forward"];
}

/** Kernel B3: per token, recompute the logits from the saved stats, reverse each constraint, form G, s2 and the parameter terms. */
function coefficientsBackward(plan: ConnectionPlan, bw: BackwardPlan, options: SourceOptions): string[] {
  const K = plan.k;
  // Per-stream projection: the token's N rows of stats ([proj (K), ss] each), N values of 1 / r, N of s2.
  const perStream = plan.rows > 1;
  const biasArgs = SLOTS.map((s) => `const float* __restrict__ bias_${s}`).join(", ");
  const biasNames = SLOTS.map((s) => `bias_${s}`).join(", ");
  const lines: string[] = [
    "// Kernel B3, one token: the norm and logits exactly as the forward forms them (from the saved",
    "// split-K sums), each constraint's reverse mode (its forward recomputed inside, in registers and",
    "// local arrays), then the chain rule through alpha, tanh, the norm and the projection:",
    "//   dbias = dL, dalpha = <dL, z>, dw = alpha dL (* (1 - z^2) for tanh), G = dproj = dw / r,",
    "//   d(1/r) = <dw, proj>, s2 = 2 d(ss) = -d(1/r) / (r^3 N C).",
    perStream
      ? "// Per-stream projection: row i (stream i) has its own proj, ss, G[i*K..), s2[i] (and, for rms_stream, its own r). Writes G[0..N*K), s2[0..N),"
      : "// Writes G[0..K), *s2 and terms[0..P) (alpha [3], then the biases). Not inlined: one compiled copy.",
    ...(perStream ? ["// terms[0..P) (alpha [3], then the biases). Not inlined: one compiled copy."] : []),
    `__device__ __noinline__ void token_coefficients_backward(int64_t C, const float* __restrict__ stats, const float* dh_pre, const float* dh_post, const float* dh_res,`,
    `    const float* __restrict__ alpha, ${biasArgs}, float* __restrict__ g, float* __restrict__ s2, float* terms) {`,
  ];
  if (K > 0 && perStream) {
    lines.push("const float* proj = stats;  // row i at stats[i * (K + 1)]", ...(plan.info.norm.kind === "none" ? [] : ["const float* ss = stats + K;  // row i's sum of squares at ss[i * (K + 1)]"]));
    lines.push(...lineDirective(options, options.declSpan));
    lines.push(...perStreamNorm(plan.info.norm, "(K + 1)"));
    if (options.declSpan) lines.push(LINE_RESTORE);
    lines.push("float drinv[N];", "#pragma unroll", "for (int i = 0; i < N; ++i) drinv[i] = 0.0f;");
  } else if (K > 0) {
    lines.push("const float* proj = stats;", "const float ss = stats[K];");
    lines.push(...lineDirective(options, options.declSpan));
    if (plan.info.norm.kind === "rms") {
      lines.push(`// norm rms(eps = ${plan.info.norm.eps})`, "const float rinv = 1.0f / sqrtf(ss / ((float)N * (float)C) + NORM_EPS);");
    } else {
      lines.push("// norm none", "const float rinv = 1.0f;", "(void)ss;");
    }
    if (options.declSpan) lines.push(LINE_RESTORE);
    lines.push("float drinv = 0.0f;");
  } else {
    lines.push("(void)C; (void)stats; (void)alpha; (void)g; (void)s2;");
  }
  lines.push("#pragma unroll", "for (int a = 0; a < 3; ++a) terms[a] = 0.0f;");
  for (const slot of SLOTS) {
    const m = plan.maps[slot];
    const gm = bw.maps[slot];
    const k = m.k;
    const kh = gm.result;
    const dh = `dh_${slot}`;
    const off = bw.offsets[slot];
    lines.push(`// ${slot}: ${m.info.mode} ${m.info.constraint}`, "{");
    lines.push(...lineDirective(options, options.mapSpans?.[slot]));
    lines.push(`float A[${k + kh}];  // [logits, dH]`);
    // Per-stream: logit l reads stream `row`'s projection column `col` (plan.ts perStreamSource); stats rows are K + 1 wide.
    const src = perStream && m.column !== undefined ? perStreamSource(plan, m) : undefined;
    const rowIndex = src ? [src.col === "0" ? `const int row = ${src.row};` : `const int row = ${src.row}, col = ${src.col};`] : [];
    const at = (stride: string): string => [`row * ${stride}`, ...(m.column === 0 ? [] : [String(m.column)]), ...(src?.col === "0" ? [] : ["col"])].join(" + ");
    if (src) {
      const tanh = m.info.mode === "dynamic tanh";
      lines.push(
        `const float a_m = alpha[${ALPHA_INDEX[slot]}];`,
        `float z[${k}];`,
        "#pragma unroll",
        `for (int l = 0; l < ${k}; ++l) {`,
        ...rowIndex,
        `const float w = proj[${at("(K + 1)")}] * rinv[row];`,
        `z[l] = ${tanh ? "tanhf(w)" : "w"};`,
        `A[l] = z[l] * a_m + bias_${slot}[l];`,
        "}",
      );
    } else if (m.column !== undefined) {
      const tanh = m.info.mode === "dynamic tanh";
      lines.push(
        `const float a_m = alpha[${ALPHA_INDEX[slot]}];`,
        `float z[${k}];`,
        "#pragma unroll",
        `for (int i = 0; i < ${k}; ++i) {`,
        `const float w = proj[${m.column === 0 ? "i" : `${m.column} + i`}] * rinv;`,
        `z[i] = ${tanh ? "tanhf(w)" : "w"};`,
        `A[i] = z[i] * a_m + bias_${slot}[i];`,
        "}",
      );
    } else {
      lines.push("#pragma unroll", `for (int i = 0; i < ${k}; ++i) A[i] = bias_${slot}[i];`);
    }
    lines.push("#pragma unroll", `for (int i = 0; i < ${kh}; ++i) A[${k} + i] = ${dh}[i];`, `float D[${k}];`);
    if (gm.fn.usesInput) lines.push(`${gm.fn.name}(A, D);`);
    else lines.push("#pragma unroll", `for (int i = 0; i < ${k}; ++i) D[i] = 0.0f;  // the constraint ignores its logits`);
    lines.push("#pragma unroll", `for (int i = 0; i < ${k}; ++i) terms[${off} + i] = D[i];`);
    if (src) {
      const tanh = m.info.mode === "dynamic tanh";
      lines.push(
        "float da = 0.0f;",
        "#pragma unroll",
        `for (int l = 0; l < ${k}; ++l) {`,
        ...rowIndex,
        "da = fmaf(D[l], z[l], da);",
        `const float dw = D[l] * a_m${tanh ? " * (1.0f - z[l] * z[l])" : ""};`,
        `g[${at("K")}] = dw * rinv[row];`,
        `drinv[row] = fmaf(dw, proj[${at("(K + 1)")}], drinv[row]);`,
        "}",
        `terms[${ALPHA_INDEX[slot]}] = da;`,
      );
    } else if (m.column !== undefined) {
      const tanh = m.info.mode === "dynamic tanh";
      lines.push(
        "float da = 0.0f;",
        "#pragma unroll",
        `for (int i = 0; i < ${k}; ++i) {`,
        "da = fmaf(D[i], z[i], da);",
        `const float dw = D[i] * a_m${tanh ? " * (1.0f - z[i] * z[i])" : ""};`,
        `const int j = ${m.column === 0 ? "i" : `${m.column} + i`};`,
        "g[j] = dw * rinv;",
        "drinv = fmaf(dw, proj[j], drinv);",
        "}",
        `terms[${ALPHA_INDEX[slot]}] = da;`,
      );
    }
    if (options.mapSpans?.[slot]) lines.push(LINE_RESTORE);
    lines.push("}");
  }
  if (K > 0 && perStream) {
    lines.push(...perStreamS2(plan.info.norm.kind));
  } else if (K > 0) {
    lines.push(plan.info.norm.kind === "rms" ? "*s2 = -drinv * rinv * rinv * rinv / ((float)N * (float)C);" : "*s2 = 0.0f;  // norm none: no sum of squares in the forward");
  }
  lines.push(
    "}",
    "",
    `// Kernel B3: one token per thread, ${BWD_COEF_TOKENS} tokens per block; the block's parameter terms are summed`,
    "// over its tokens in token order (shared memory) into one row of param_part.",
    `__global__ void __launch_bounds__(${BWD_COEF_TOKENS}) coefficients_backward_kernel(int64_t T, int64_t C, int64_t pre_slices, const float* __restrict__ stats,`,
    "    const float* __restrict__ dpre_part, const float* __restrict__ dh_pre, const float* __restrict__ dh_post, const float* __restrict__ dh_res,",
    `    const float* __restrict__ alpha, ${biasArgs}, float* __restrict__ g, float* __restrict__ s2, float* __restrict__ param_part) {`,
    "__shared__ float terms[BWD_COEF_TOKENS * PARAM_STRIDE];",
    "const int lane = threadIdx.x;",
    "const int64_t t = (int64_t)blockIdx.x * BWD_COEF_TOKENS + lane;",
    "float* row = terms + lane * PARAM_STRIDE;",
    "if (t < T) {",
    "float dhp[N], dhq[N], dhr[N * N];",
    "#pragma unroll",
    "for (int i = 0; i < N; ++i) {",
    "float a = dh_pre != nullptr ? dh_pre[t * N + i] : 0.0f;",
    "for (int64_t s = 0; s < pre_slices; ++s) a += dpre_part[(s * T + t) * N + i];",
    "dhp[i] = a;",
    "dhq[i] = dh_post != nullptr ? dh_post[t * N + i] : 0.0f;",
    "}",
    "#pragma unroll",
    "for (int i = 0; i < N * N; ++i) dhr[i] = dh_res != nullptr ? dh_res[t * N * N + i] : 0.0f;",
    K > 0
      ? perStream
        ? `token_coefficients_backward(C, stats + t * ROWS * (K + 1), dhp, dhq, dhr, alpha, ${biasNames}, g + t * ROWS * K, s2 + t * ROWS, row);`
        : `token_coefficients_backward(C, stats + t * (K + 1), dhp, dhq, dhr, alpha, ${biasNames}, g + t * K, s2 + t, row);`
      : `token_coefficients_backward(C, nullptr, dhp, dhq, dhr, alpha, ${biasNames}, nullptr, nullptr, row);`,
    "} else {",
    "for (int v = 0; v < PARAM_TERMS; ++v) row[v] = 0.0f;",
    "}",
    "__syncthreads();",
    "for (int v = lane; v < PARAM_TERMS; v += BWD_COEF_TOKENS) {",
    "float acc = 0.0f;",
    "for (int tt = 0; tt < BWD_COEF_TOKENS; ++tt) acc += terms[tt * PARAM_STRIDE + v];",
    "param_part[(int64_t)blockIdx.x * PARAM_TERMS + v] = acc;",
    "}",
    "}",
    "",
    "// Kernel B4: alpha and bias gradients, the blocks' rows summed in block order.",
    `__global__ void __launch_bounds__(${BLOCK_THREADS}) parameter_gradients_kernel(const float* __restrict__ param_part, int64_t blocks, float* __restrict__ grad_alpha,`,
    "    float* __restrict__ grad_bias_pre, float* __restrict__ grad_bias_post, float* __restrict__ grad_bias_res) {",
    "const int v = blockIdx.x * blockDim.x + threadIdx.x;",
    "if (v >= PARAM_TERMS) return;",
    "float acc = 0.0f;",
    "for (int64_t b = 0; b < blocks; ++b) acc += param_part[b * PARAM_TERMS + v];",
    "if (v < 3) grad_alpha[v] = acc;",
    `else if (v < ${bw.offsets.post}) grad_bias_pre[v - ${bw.offsets.pre}] = acc;`,
    `else if (v < ${bw.offsets.res}) grad_bias_post[v - ${bw.offsets.post}] = acc;`,
    `else grad_bias_res[v - ${bw.offsets.res}] = acc;`,
    "}",
  );
  return lines;
}

/**
 * The body of `forward_split`: the forward's own split-K plan functions, called as its
 * launcher calls them. The forward's prenorm is the small-T plan where it applies (`split_plan_small`),
 * else either one SIMT plan (`split_plan`, or `split_plan_simt`) or a tensor-core plan for bf16 x beside it (`split_plan_mma`);
 * which ones the forward text defines decides (GPU verification checks the stats).
 */
function forwardSplitBody(forwardText: string): string[] {
  const defines = (name: string): boolean => forwardText.includes(`static mhc::PrenormSplit ${name}(int64_t T, int64_t C)`);
  const simt = defines("split_plan_simt") ? "split_plan_simt" : "split_plan";
  // The small-T prenorm (either dtype) comes first, as in launch_pre.
  const small = defines("split_plan_small") ? ["if (small_prenorm(T)) return split_plan_small(T, C);"] : [];
  if (defines("split_plan_mma")) return [...small, `return dtype == MHC_DTYPE_BF16 ? split_plan_mma(T, C) : ${simt}(T, C);`];
  return [...small, "(void)dtype;", `return ${simt}(T, C);`];
}

/** Constants of the tensor-core prenorm backward (knobs.ts), checked against mhc_bwd_mma.cuh's layout. */
function mmaConstants(plan: ConnectionPlan): string[] {
  const mma = backwardMma(plan);
  if (!mma) return [];
  return [
    `// Prenorm backward on tensor cores (knobs.ts, mhc_bwd_mma.cuh): ${mma.rows} rows of R (the N streams of a channel range) x ${BWD_MMA_TOKENS}-token tiles, a ring of ${BWD_MMA_STAGES},`,
    `// ${mma.threads} threads, ${mma.smemBytes} bytes of shared memory, ${mma.blocksPerSm} block(s) per SM.`,
    `constexpr int BWD_MMA_ROWS = ${mma.rows}, BWD_MMA_THREADS = ${mma.threads}, BWD_MMA_TOKENS = ${BWD_MMA_TOKENS}, BWD_MMA_STAGES = ${BWD_MMA_STAGES};`,
    `constexpr int BWD_MMA_SMEM_BYTES = ${mma.smemBytes}, BWD_MMA_BLOCKS_PER_SM = ${mma.blocksPerSm}, BWD_MMA_TARGET_BLOCKS = ${mma.targetBlocks};`,
    plan.rows > 1 ? "constexpr int BWD_MMA_N = 1;  // per-stream projection: the kernel runs over the T * ROWS rows of C values" : "constexpr int BWD_MMA_N = N;",
    `constexpr int BWD_MMA_KP16 = mhc::BwdMmaLayout<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES>::KP16;  // G parts' row length`,
    `constexpr int BWD_MMA_CHANNELS = mhc::BwdMmaLayout<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES>::CG;  // channels of every stream a block owns`,
    `static_assert(BWD_MMA_SMEM_BYTES == mhc::BwdMmaLayout<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES>::BYTES, "knobs.ts and mhc_bwd_mma.cuh agree");`,
  ];
}

/** The tensor-core prenorm backward's shape for this connection, or undefined (SIMT only). */
export function backwardMma(plan: ConnectionPlan): ReturnType<typeof prenormBackwardMma> {
  // A per-stream projection (plan.rows > 1) runs the kernel over its T*n rows of C values, as one stream.
  return plan.k > 0 ? prenormBackwardMma(backwardMmaStreams(plan), plan.k) : undefined;
}

/** The tensor-core prenorm backward's N: the streams of a flat projection's rows of n*C, 1 for a per-stream one (rows of C). */
export function backwardMmaStreams(plan: ConnectionPlan): number {
  return plan.rows > 1 ? 1 : plan.n;
}

/**
 * Whether the tensor-core prenorm backward forms the post's H_res^T dy itself when handed dy (a flat
 * projection: a per-stream kernel treats the streams' rows as separate), and does it on tensor cores
 * (n divides 16: mhc_bwd_mma.cuh TC_MIX, fed by mix_blocks_kernel).
 */
export function backwardMixesDy(plan: ConnectionPlan): { readonly tensorCores: boolean } | undefined {
  return backwardMma(plan) !== undefined && plan.rows === 1 ? { tensorCores: 16 % plan.n === 0 } : undefined;
}

function launchers(plan: ConnectionPlan, forwardText: string): string[] {
  const K = plan.k;
  // Per-stream projection: G, s2 and the prenorm backward run over T * ROWS rows of C values.
  const perStream = plan.rows > 1;
  const cfg = plan.prenorm;
  const mma = backwardMma(plan);
  // The dy mix on tensor cores (mhc_bwd_mma.cuh TC_MIX): a flat projection whose n divides 16.
  const tcMix = backwardMixesDy(plan)?.tensorCores === true;
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const phiParams = withProj.map((s) => `const float* phi_${s}, float* grad_phi_${s}`).join(", ");
  const biasParams = SLOTS.map((s) => `const float* bias_${s}`).join(", ");
  const gradBias = SLOTS.map((s) => `float* grad_bias_${s}`).join(", ");
  const lines: string[] = [
    "// ---- backward host launchers ----",
    "",
    ...(cfg
      ? [
          "// The split-K plan mhc_<name>_pre used for x of this dtype (as its launcher chooses), to read its partials.",
          "static mhc::PrenormSplit forward_split(int64_t T, int64_t C, int dtype) {",
          ...forwardSplitBody(forwardText),
          "}",
          "",
        ]
      : []),
    "static mhc::ChannelSlices bwd_slices(int64_t T, int64_t C) { return mhc::channel_slices(T, C, BWD_TARGET_BLOCKS, BWD_MIN_CHANNELS); }",
    "static int64_t bwd_coef_blocks(int64_t T) { return (T + BWD_COEF_TOKENS - 1) / BWD_COEF_TOKENS; }",
    ...(K > 0
      ? [
          perStream
            ? `static mhc::TokenChunks bwd_chunks(int64_t T, int64_t C) { return mhc::token_chunks(T * ROWS, C, ${BLOCK_THREADS}, BWD_PRENORM_TARGET_BLOCKS, BWD_MIN_TOKENS, PRENORM_BWD_BT); }  // chunks of the T * ROWS rows`
            : `static mhc::TokenChunks bwd_chunks(int64_t T, int64_t C) { return mhc::token_chunks(T, (int64_t)N * C, ${BLOCK_THREADS}, BWD_PRENORM_TARGET_BLOCKS, BWD_MIN_TOKENS, PRENORM_BWD_BT); }`,
        ]
      : []),
    ...(mma
      ? [
          "// Blocks of the tensor-core kernel: BWD_MMA_CHANNELS channels of every stream each.",
          `static mhc::TokenChunks bwd_chunks_mma(int64_t T, int64_t C) { return mhc::token_chunks(${perStream ? "T * ROWS" : "T"}, C, BWD_MMA_CHANNELS, BWD_MMA_TARGET_BLOCKS, BWD_MIN_TOKENS, BWD_MMA_TOKENS); }`,
          "// dphi partials: the larger chunk count of the two kernels (the layout depends on (T, C) alone, not on the dtype).",
          "static int64_t bwd_dphi_chunks(int64_t T, int64_t C) {",
          "const int64_t a = bwd_chunks(T, C).chunks, b = bwd_chunks_mma(T, C).chunks;",
          "return a > b ? a : b;",
          "}",
        ]
      : K > 0
        ? ["static int64_t bwd_dphi_chunks(int64_t T, int64_t C) { return bwd_chunks(T, C).chunks; }"]
        : []),
    "",
    "// Workspace of the post backward: the dH partials [slices, T, N*N + N].",
    "static size_t post_backward_bytes(int64_t T, int64_t C) {",
    "return mhc::align256((size_t)bwd_slices(T, C).slices * (size_t)T * (N * N + N) * sizeof(float));",
    "}",
    "",
    "// Workspace of the pre backward, in order: premix partials [slices, T, N], G [T, K], s2 [T],",
    `// parameter-term rows [blocks, P], dphi partials [chunks, N*C, K]${mma ? `, G in three bf16 parts [3, T${perStream ? " * ROWS" : ""}, KP16] (tensor-core kernel)` : ""}${tcMix ? "," : "."}`,
    ...(tcMix ? ["// the post's mix as block-diagonal H_res^T blocks [ceil(T / (16 / N)), 2, 16, 16] (bf16 parts)."] : []),
    "struct PreBackwardLayout {",
    `size_t dpre, g, s2, params, dphi, ${mma ? "g_parts, " : ""}${tcMix ? "mix_blocks, " : ""}total;`,
    "};",
    "",
    "static PreBackwardLayout pre_backward_layout(int64_t T, int64_t C) {",
    "PreBackwardLayout l;",
    "size_t at = 0;",
    "l.dpre = at; at += mhc::align256((size_t)bwd_slices(T, C).slices * (size_t)T * N * sizeof(float));",
    `l.g = at; at += mhc::align256((size_t)T${perStream ? " * ROWS" : ""} * K * sizeof(float));`,
    `l.s2 = at; at += mhc::align256((size_t)T${perStream ? " * ROWS" : ""} * sizeof(float));`,
    "l.params = at; at += mhc::align256((size_t)bwd_coef_blocks(T) * PARAM_TERMS * sizeof(float));",
    "l.dphi = at;",
    K > 0 ? `at += mhc::align256((size_t)bwd_dphi_chunks(T, C) * ${perStream ? "" : "(size_t)N * "}(size_t)C * K * sizeof(float));` : "(void)C;",
    ...(mma ? [`l.g_parts = at; at += mhc::align256((size_t)3 * T${perStream ? " * ROWS" : ""} * BWD_MMA_KP16 * sizeof(__nv_bfloat16));`] : []),
    ...(tcMix ? ["l.mix_blocks = at; at += mhc::align256((size_t)((T + 16 / N - 1) / (16 / N)) * 2 * 256 * sizeof(__nv_bfloat16));"] : []),
    "l.total = at;",
    "return l;",
    "}",
    "",
    "static size_t backward_workspace_bytes(int64_t T, int64_t C) {",
    "const size_t a = post_backward_bytes(T, C), b = pre_backward_layout(T, C).total;",
    "return a > b ? a : b;",
    "}",
    "",
    "template <typename TR>",
    "static int launch_post_backward(const TR* x, const TR* f, int64_t T, int64_t C, const float* h_post, const float* h_res, const TR* dy, TR* dx, TR* df,",
    "    float* dh_post, float* dh_res, void* workspace, cudaStream_t stream) {",
    "const mhc::ChannelSlices sl = bwd_slices(T, C);",
    "float* part = static_cast<float*>(workspace);",
    "constexpr int V = mhc::vec16<TR>() < POST_BWD_VEC ? mhc::vec16<TR>() : POST_BWD_VEC;",
    "const size_t vb = V * sizeof(TR);",
    "const bool vec = C % V == 0 && mhc::aligned(x, vb) && mhc::aligned(f, vb) && mhc::aligned(dy, vb) && mhc::aligned(dx, vb) && mhc::aligned(df, vb);",
    "const dim3 grid((unsigned)T, (unsigned)sl.slices);",
    "if (vec)",
    `  mhc::post_backward_kernel<TR, N, V, POST_BWD_ROWS><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, f, h_post, h_res, dy, dx, df, T, C, sl.width, part);`,
    "else",
    `  mhc::post_backward_kernel<TR, N, 1, POST_BWD_ROWS><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, f, h_post, h_res, dy, dx, df, T, C, sl.width, part);`,
    "int st = cuda_status(cudaGetLastError());",
    "if (st != MHC_OK) return st;",
    `mhc::post_backward_reduce_kernel<N><<<mhc::grid_for(T * (N * N + N), ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(part, T, sl.slices, dh_post, dh_res);`,
    "return cuda_status(cudaGetLastError());",
    "}",
    "",
    "template <typename TR>",
    `static int launch_pre_backward(const TR* x, int64_t T, int64_t C${phiParams ? `, ${phiParams}` : ""}, const float* alpha, ${biasParams},`,
    `    const float* stats, const float* h_pre, const TR* du, const float* dh_pre, const float* dh_post, const float* dh_res, const TR* dx_in, const TR* dy, const float* h_res,`,
    `    TR* dx, float* grad_alpha, ${gradBias},`,
    "    void* workspace, cudaStream_t stream) {",
    "const PreBackwardLayout l = pre_backward_layout(T, C);",
    "char* ws = static_cast<char*>(workspace);",
    "float* dpre_part = reinterpret_cast<float*>(ws + l.dpre);",
    "float* g = reinterpret_cast<float*>(ws + l.g);",
    "float* s2 = reinterpret_cast<float*>(ws + l.s2);",
    "float* param_part = reinterpret_cast<float*>(ws + l.params);",
    "int st;",
    "{",
    "// Kernel B2: dH_pre partials <du, x_i> per channel slice.",
    "const mhc::ChannelSlices sl = bwd_slices(T, C);",
    "constexpr int V = mhc::vec16<TR>();",
    "const bool vec = C % V == 0 && mhc::aligned(x, 16) && mhc::aligned(du, 16);",
    "const dim3 grid((unsigned)T, (unsigned)sl.slices);",
    "if (vec)",
    `  mhc::premix_backward_kernel<TR, N, V><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, du, T, C, sl.width, dpre_part);`,
    "else",
    `  mhc::premix_backward_kernel<TR, N, 1><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, du, T, C, sl.width, dpre_part);`,
    "st = cuda_status(cudaGetLastError());",
    "if (st != MHC_OK) return st;",
    "// Kernels B3, B4: the coefficients' backward, then alpha and bias gradients.",
    "const int64_t blocks = bwd_coef_blocks(T);",
    `coefficients_backward_kernel<<<(unsigned)blocks, BWD_COEF_TOKENS, 0, stream>>>(T, C, sl.slices, stats, dpre_part, dh_pre, dh_post, dh_res, alpha, ${SLOTS.map((s) => `bias_${s}`).join(", ")}, g, s2, param_part);`,
    "st = cuda_status(cudaGetLastError());",
    "if (st != MHC_OK) return st;",
    `parameter_gradients_kernel<<<(PARAM_TERMS + ${BLOCK_THREADS - 1}) / ${BLOCK_THREADS}, ${BLOCK_THREADS}, 0, stream>>>(param_part, blocks, grad_alpha, ${SLOTS.map((s) => `grad_bias_${s}`).join(", ")});`,
    "st = cuda_status(cudaGetLastError());",
    "if (st != MHC_OK) return st;",
    "}",
  ];
  if (K > 0) {
    const outs = SLOTS.map((s) => (plan.maps[s].column !== undefined ? { ptr: `grad_phi_${s}`, k: plan.maps[s].width } : undefined)).filter((o) => o !== undefined);
    const [o0, o1, o2] = [outs[0], outs[1], outs[2]];
    const mixFirst = (indent: string): string[] => [
      `${indent}mhc::elementwise_dx_kernel<TR, N><<<mhc::grid_for(T * N * C, ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(h_res, dy, nullptr, nullptr, dx_in, dx, T, C);`,
      `${indent}st = cuda_status(cudaGetLastError());`,
      `${indent}if (st != MHC_OK) return st;`,
      `${indent}dx_in = dx;`,
    ];
    lines.push(
      "// Kernels B5: dx and the dphi partials, then dphi summed over token chunks in order.",
      "float* dphi_part = reinterpret_cast<float*>(ws + l.dphi);",
      `PhiColumns phi{${withProj.map((s) => `phi_${s}`).join(", ")}};`,
      ...(perStream ? ["// Per-stream projection: the kernels run over the T * ROWS rows of C values (N = 1 there; du has one row per token)."] : []),
      `const int64_t R = ${perStream ? "C" : "(int64_t)N * C"};`,
      "int64_t dphi_chunks;",
      ...(mma
        ? [
            ...(perStream
              ? [
                  "// dy given (post_backward ran with dx = NULL): the post's dx, H_res^T dy, is formed first (it mixes",
                  "// rows of different streams, which the per-stream kernels treat as separate rows).",
                  "bool use_mma = false;",
                  "constexpr bool mix_dy = false;",
                  "if (dy != nullptr) {",
                  ...mixFirst(""),
                  "}",
                  "if constexpr (std::is_same<TR, __nv_bfloat16>::value) use_mma = mhc::prenorm_backward_mma_fits(C, x, du, dx_in, dx, h_pre, nullptr);",
                ]
              : [
                  "// dy given (post_backward ran with dx = NULL): the post's dx, H_res^T dy, is formed inside the",
                  "// tensor-core kernel where it takes the operands, else by one element-wise pass into dx first.",
                  "bool use_mma = false, mix_dy = false;",
                  "if constexpr (std::is_same<TR, __nv_bfloat16>::value) {",
                  "mix_dy = dy != nullptr && dx_in == nullptr;",
                  "use_mma = mhc::prenorm_backward_mma_fits(C, x, du, mix_dy ? dy : dx_in, dx, h_pre, mix_dy ? h_res : nullptr);",
                  "mix_dy = mix_dy && use_mma;",
                  "}",
                  "if (dy != nullptr && !mix_dy) {",
                  ...mixFirst(""),
                  "}",
                ]),
            "if (use_mma) {",
            `// bf16 x: both GEMMs on tensor cores in one pass over x (mhc_bwd_mma.cuh)${perStream ? ", over the T * ROWS rows of C values (du[t / ROWS])" : ""}.`,
            "const mhc::TokenChunks cm = bwd_chunks_mma(T, C);",
            "__nv_bfloat16* g_parts = reinterpret_cast<__nv_bfloat16*>(ws + l.g_parts);",
            `mhc::split_g_kernel<K, BWD_MMA_KP16><<<mhc::grid_for(${perStream ? "T * ROWS" : "T"} * BWD_MMA_KP16, ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(g, ${perStream ? "T * ROWS" : "T"}, g_parts);`,
            "st = cuda_status(cudaGetLastError());",
            "if (st != MHC_OK) return st;",
            ...(perStream
              ? ["const auto kernel = mhc::prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, false, PhiColumns, ROWS>;"]
              : [
                  "const auto kernel = mix_dy ? mhc::prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, true, PhiColumns>",
                  "                           : mhc::prenorm_backward_mma_kernel<BWD_MMA_N, K, BWD_MMA_ROWS, BWD_MMA_TOKENS, BWD_MMA_STAGES, BWD_MMA_BLOCKS_PER_SM, false, PhiColumns>;",
                ]),
            "static std::atomic<unsigned long long> smem_raised[2] = {{0}, {0}};",
            "st = cuda_status(mhc::allow_dynamic_smem(kernel, BWD_MMA_SMEM_BYTES, smem_raised[mix_dy ? 1 : 0]));",
            "if (st != MHC_OK) return st;",
            "const dim3 grid_mma((unsigned)((C + BWD_MMA_CHANNELS - 1) / BWD_MMA_CHANNELS), (unsigned)cm.chunks);",
            "const __nv_bfloat16* bx = reinterpret_cast<const __nv_bfloat16*>(x);",
            "const __nv_bfloat16* bdu = reinterpret_cast<const __nv_bfloat16*>(du);",
            "const __nv_bfloat16* bin = reinterpret_cast<const __nv_bfloat16*>(mix_dy ? dy : dx_in);",
            ...(tcMix
              ? [
                  "__nv_bfloat16* mix_blocks = reinterpret_cast<__nv_bfloat16*>(ws + l.mix_blocks);",
                  "// H_res^T as block-diagonal 16 x 16 bf16 blocks for the kernel's tensor-core mix.",
                  "if (mix_dy) {",
                  `mhc::mix_blocks_kernel<N><<<mhc::grid_for((T + 16 / N - 1) / (16 / N) * 256, ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(h_res, T, mix_blocks);`,
                  "st = cuda_status(cudaGetLastError());",
                  "if (st != MHC_OK) return st;",
                  "}",
                ]
              : ["const __nv_bfloat16* mix_blocks = nullptr;"]),
            `kernel<<<grid_mma, BWD_MMA_THREADS, BWD_MMA_SMEM_BYTES, stream>>>(bx, ${perStream ? "T * ROWS" : "T"}, C, cm.tokens, phi, g_parts, s2, h_pre, bdu, bin, mix_dy ? h_res : nullptr, mix_blocks, reinterpret_cast<__nv_bfloat16*>(dx), dphi_part);`,
            "st = cuda_status(cudaGetLastError());",
            "if (st != MHC_OK) return st;",
            "dphi_chunks = cm.chunks;",
            "} else {",
          ]
        : ["if (dy != nullptr) {", ...mixFirst(""), "}", "{"]),
      "// SIMT: dx, then the dphi partials (one pass over x per column pass).",
      "const mhc::TokenChunks ch = bwd_chunks(T, C);",
      `const dim3 grid((unsigned)((R + ${BLOCK_THREADS - 1}) / ${BLOCK_THREADS}), (unsigned)ch.chunks);`,
      perStream
        ? `mhc::prenorm_backward_kernel<true, TR, 1, K, PRENORM_BWD_KC, BWD_TOKEN_TILE, PRENORM_BWD_BT, PhiColumns, ROWS><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, T * ROWS, C, ch.tokens, phi, g, s2, h_pre, du, dx_in, dx, dphi_part);`
        : `mhc::prenorm_backward_kernel<true, TR, N, K, PRENORM_BWD_KC, BWD_TOKEN_TILE, PRENORM_BWD_BT, PhiColumns><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, T, C, ch.tokens, phi, g, s2, h_pre, du, dx_in, dx, dphi_part);`,
      "st = cuda_status(cudaGetLastError());",
      "if (st != MHC_OK) return st;",
      perStream
        ? `mhc::prenorm_backward_kernel<false, TR, 1, K, PRENORM_BWD_KC, BWD_TOKEN_TILE, PRENORM_BWD_BT, PhiColumns, ROWS><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, T * ROWS, C, ch.tokens, phi, g, s2, h_pre, du, dx_in, dx, dphi_part);`
        : `mhc::prenorm_backward_kernel<false, TR, N, K, PRENORM_BWD_KC, BWD_TOKEN_TILE, PRENORM_BWD_BT, PhiColumns><<<grid, ${BLOCK_THREADS}, 0, stream>>>(x, T, C, ch.tokens, phi, g, s2, h_pre, du, dx_in, dx, dphi_part);`,
      "st = cuda_status(cudaGetLastError());",
      "if (st != MHC_OK) return st;",
      "dphi_chunks = ch.chunks;",
      "}",
      `mhc::dphi_reduce_kernel<<<mhc::grid_for(R * K, ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(dphi_part, R, K, dphi_chunks, ${o0?.ptr ?? "nullptr"}, ${o0?.k ?? 0}, ${o1?.ptr ?? "nullptr"}, ${o1?.k ?? 0}, ${o2?.ptr ?? "nullptr"});`,
      "return cuda_status(cudaGetLastError());",
      "}",
    );
  } else {
    lines.push(
      "// No projection: dx is the premix's alone (with the post's, H_res^T dy, when dy is given), one pass.",
      "(void)stats; (void)dh_pre;",
      `mhc::elementwise_dx_kernel<TR, N><<<mhc::grid_for(T * N * C, ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(h_res, dy, h_pre, du, dx_in, dx, T, C);`,
      "return cuda_status(cudaGetLastError());",
      "}",
    );
  }
  return lines;
}

function entryDefinitions(plan: ConnectionPlan, eps: readonly EntryPoint[]): string[] {
  const [statsEp, wsEp, postEp, preEp] = eps as [EntryPoint, EntryPoint, EntryPoint, EntryPoint];
  const ns = `mhc_${plan.symbol}`;
  const K = plan.k;
  const withProj = SLOTS.filter((s) => plan.maps[s].column !== undefined);
  const params = plan.parameters.map((p) => p.name);
  const grads = params.map((p) => `grad_${p}`);
  const preCall = (tr: string): string =>
    `${ns}::launch_pre_backward<${tr}>(static_cast<const ${tr}*>(x), T, C${withProj.map((s) => `, phi_${s}, grad_phi_${s}`).join("")}, alpha, ${SLOTS.map((s) => `bias_${s}`).join(", ")}, stats, h_pre, static_cast<const ${tr}*>(du), dh_pre, dh_post, dh_res, static_cast<const ${tr}*>(dx_in), static_cast<const ${tr}*>(dy), h_res, static_cast<${tr}*>(dx), grad_alpha, ${SLOTS.map((s) => `grad_bias_${s}`).join(", ")}, workspace, stream)`;
  const postCall = (tr: string): string =>
    `${ns}::launch_post_backward<${tr}>(static_cast<const ${tr}*>(x), static_cast<const ${tr}*>(f), T, C, h_post, h_res, static_cast<const ${tr}*>(dy), static_cast<${tr}*>(dx), static_cast<${tr}*>(df), dh_post, dh_res, workspace, stream)`;
  const zeroGrads = plan.parameters.map((p) => {
    const dims = p.shape.map((d) => (typeof d === "number" ? `(size_t)${d}` : `(size_t)(${d.replace(/\bC\b/g, "C")})`));
    return `st = ${ns}::cuda_status(cudaMemsetAsync(grad_${p.name}, 0, ${dims.join(" * ")} * sizeof(float), stream));\nif (st != MHC_OK) return st;`;
  });
  const lines = [
    `extern "C" ${prototype(statsEp)} {`,
    `if (!mhc::valid_shape(T, C, ${ns}::N)) return MHC_ERR_BAD_SHAPE;`,
  ];
  if (K > 0) {
    lines.push(
      "if (dtype != MHC_DTYPE_F32 && dtype != MHC_DTYPE_BF16) return MHC_ERR_BAD_DTYPE;",
      "if (T == 0) return MHC_OK;",
      "if (pre_workspace == nullptr || stats == nullptr) return MHC_ERR_NULL_POINTER;",
      "if (!mhc::aligned(pre_workspace, 16) || !mhc::aligned(stats, 4)) return MHC_ERR_MISALIGNED;",
      `if (pre_workspace_bytes < ${ns}::workspace_bytes_for(T, C)) return MHC_ERR_WORKSPACE_TOO_SMALL;`,
      `const mhc::PrenormSplit sp = ${ns}::forward_split(T, C, dtype);`,
      "const float* proj_part = static_cast<const float*>(pre_workspace);",
      ...(plan.rows > 1 ? [`// Per-stream projection: the partials are per row, T * ROWS rows; stats [T, ROWS * (K + 1)] is [T * ROWS, K + 1].`, `const int64_t rows = T * ${ns}::ROWS;`] : []),
      `const float* ss_part = reinterpret_cast<const float*>(static_cast<const char*>(pre_workspace) + mhc::prenorm_proj_bytes(${plan.rows > 1 ? "rows" : "T"}, sp.splits, ${ns}::K));`,
      `mhc::stats_kernel<<<mhc::grid_for(${plan.rows > 1 ? "rows" : "T"} * (${ns}::K + 1), ${BLOCK_THREADS}), ${BLOCK_THREADS}, 0, stream>>>(proj_part, ss_part, ${plan.rows > 1 ? "rows" : "T"}, ${ns}::K, sp.splits, stats);`,
      `return ${ns}::cuda_status(cudaGetLastError());`,
    );
  } else {
    lines.push("(void)dtype; (void)pre_workspace; (void)pre_workspace_bytes; (void)stats; (void)stream;", "return MHC_OK;  // no projection: the backward needs no stats");
  }
  lines.push(
    "}",
    "",
    `extern "C" ${prototype(wsEp)} {`,
    "if (bytes == nullptr) return MHC_ERR_NULL_POINTER;",
    `if (!mhc::valid_shape(T, C, ${ns}::N)) return MHC_ERR_BAD_SHAPE;`,
    `*bytes = ${ns}::backward_workspace_bytes(T, C);`,
    "return MHC_OK;",
    "}",
    "",
    `extern "C" ${prototype(postEp)} {`,
    "// dx may be NULL: the caller hands dy and h_res to pre_backward, which forms H_res^T dy itself.",
    "if (x == nullptr || f == nullptr || h_post == nullptr || h_res == nullptr || dy == nullptr || df == nullptr || dh_post == nullptr || dh_res == nullptr) return MHC_ERR_NULL_POINTER;",
    "if (dtype != MHC_DTYPE_F32 && dtype != MHC_DTYPE_BF16) return MHC_ERR_BAD_DTYPE;",
    `if (!mhc::valid_shape(T, C, ${ns}::N)) return MHC_ERR_BAD_SHAPE;`,
    "const size_t es = mhc::residual_size(dtype);",
    "if (!mhc::aligned(x, es) || !mhc::aligned(f, es) || !mhc::aligned(dy, es) || !mhc::aligned(dx, es) || !mhc::aligned(df, es)) return MHC_ERR_MISALIGNED;",
    "if (!mhc::aligned(h_post, 4) || !mhc::aligned(h_res, 4) || !mhc::aligned(dh_post, 4) || !mhc::aligned(dh_res, 4)) return MHC_ERR_MISALIGNED;",
    `const size_t need = ${ns}::post_backward_bytes(T, C);`,
    "if (workspace_bytes < need) return MHC_ERR_WORKSPACE_TOO_SMALL;",
    "if (need > 0 && workspace == nullptr) return MHC_ERR_NULL_POINTER;",
    "if (need > 0 && !mhc::aligned(workspace, 16)) return MHC_ERR_MISALIGNED;",
    "if (T == 0) return MHC_OK;",
    `if (dtype == MHC_DTYPE_BF16) return ${postCall("__nv_bfloat16")};`,
    `return ${postCall("float")};`,
    "}",
    "",
    `extern "C" ${prototype(preEp)} {`,
    `if (${["x", ...params, "h_pre", "du", "dx", ...grads].map((a) => `${a} == nullptr`).join(" || ")}) return MHC_ERR_NULL_POINTER;`,
    ...(K > 0 ? ["if (T > 0 && stats == nullptr) return MHC_ERR_NULL_POINTER;"] : []),
    "if (dtype != MHC_DTYPE_F32 && dtype != MHC_DTYPE_BF16) return MHC_ERR_BAD_DTYPE;",
    `if (!mhc::valid_shape(T, C, ${ns}::N)) return MHC_ERR_BAD_SHAPE;`,
    "const size_t es = mhc::residual_size(dtype);",
    "if (dy != nullptr && h_res == nullptr) return MHC_ERR_NULL_POINTER;",
    "if (dy != nullptr && dy == dx) return MHC_ERR_UNSUPPORTED;  // each dx element mixes every stream of dy",
    "if (!mhc::aligned(x, es) || !mhc::aligned(du, es) || !mhc::aligned(dx_in, es) || !mhc::aligned(dy, es) || !mhc::aligned(dx, es)) return MHC_ERR_MISALIGNED;",
    `if (${[...params, "stats", "h_pre", "dh_pre", "dh_post", "dh_res", "h_res", ...grads].map((a) => `!mhc::aligned(${a}, 4)`).join(" || ")}) return MHC_ERR_MISALIGNED;`,
    `const size_t need = ${ns}::pre_backward_layout(T, C).total;`,
    "if (workspace_bytes < need) return MHC_ERR_WORKSPACE_TOO_SMALL;",
    "if (need > 0 && workspace == nullptr) return MHC_ERR_NULL_POINTER;",
    "if (need > 0 && !mhc::aligned(workspace, 16)) return MHC_ERR_MISALIGNED;",
    "if (T == 0) {",
    "// No tokens: every parameter gradient is zero.",
    "int st;",
    ...zeroGrads.flatMap((z) => z.split("\n")),
    "return MHC_OK;",
    "}",
    `if (dtype == MHC_DTYPE_BF16) return ${preCall("__nv_bfloat16")};`,
    `return ${preCall("float")};`,
    "}",
  );
  return lines;
}

/** Replaces LINE_RESTORE markers with `#line` directives, for lines that start after `offset` lines of the file. */
function finishSection(lines: readonly string[], fileName: string, offset: number): string {
  return lines.map((line, i) => (line === LINE_RESTORE ? `#line ${offset + i + 2} ${JSON.stringify(fileName)}` : line)).join("\n") + "\n";
}

/**
 * The backward section appended to `<symbol>.cu` after `forwardText`:
 * the constraints' gradient functions, kernels B3-B4, launchers and the extern "C" entry
 * points of backward/abi.ts.
 */
export function backwardCudaSection(plan: ConnectionPlan, bw: BackwardPlan, options: SourceOptions, forwardText: string): string {
  const offset = forwardText.split("\n").length - 1;
  const K = plan.k;
  const n = plan.n;
  const fileName = `${plan.symbol}.cu`;
  const lines: string[] = [
    "",
    "// ==== backward (design.md 4.2 item 5) ====",
    "// -DMHC_NO_BACKWARD builds the forward alone (the backward entry points are then missing).",
    "#ifndef MHC_NO_BACKWARD",
    "",
    `#include "mhc_bwd.cuh"`,
    ...(backwardMma(plan) ? [`#include "mhc_bwd_mma.cuh"`] : []),
    "",
    `namespace mhc_${plan.symbol} {`,
    "",
    `constexpr int PARAM_TERMS = ${bw.paramTerms};  // per-token parameter-gradient terms: alpha [3], bias_pre [${plan.maps.pre.k}], bias_post [${plan.maps.post.k}], bias_res [${plan.maps.res.k}]`,
    `constexpr int PARAM_STRIDE = ${bw.paramTerms % 2 === 0 ? bw.paramTerms + 1 : bw.paramTerms};  // odd: conflict-free shared-memory rows`,
    `constexpr int BWD_COEF_TOKENS = ${BWD_COEF_TOKENS}, BWD_TARGET_BLOCKS = ${BWD_TARGET_BLOCKS}, BWD_PRENORM_TARGET_BLOCKS = ${BWD_PRENORM_TARGET_BLOCKS}, BWD_TOKEN_TILE = ${BWD_TOKEN_TILE};`,
    `constexpr int64_t BWD_MIN_CHANNELS = ${BWD_MIN_CHANNELS}, BWD_MIN_TOKENS = ${BWD_MIN_TOKENS};`,
    `constexpr int POST_BWD_VEC = ${postBackwardVector(n)}, POST_BWD_ROWS = ${postBackwardRows(n)};  // post backward: channels per access at most, dH rows per pass`,
    ...(K > 0
      ? [
          `constexpr int PRENORM_BWD_KC = ${prenormBackwardColumns(K)};  // prenorm backward: phi / dphi columns held per thread and pass`,
          `constexpr int PRENORM_BWD_BT = ${prenormBackwardTokens(K)};  // prenorm backward: tokens of G rows per shared-memory buffer`,
        ]
      : []),
    ...mmaConstants(plan),
    "",
    "// ---- the constraints' reverse mode, generated from the IR's autodiff (one per map) ----",
    "",
  ];
  for (const slot of SLOTS) {
    const fn = bw.maps[slot].fn;
    if (fn.globals.length > 0) lines.push(...fn.globals, "");
    lines.push(...fn.lines, "");
  }
  if (K > 0) lines.push(...indent(phiColumns(plan), 0), "");
  lines.push(...indent(coefficientsBackward(plan, bw, options), 0), "");
  lines.push(...indent(launchers(plan, forwardText), 0), "");
  lines.push(`}  // namespace mhc_${plan.symbol}`, "", "// ---- C ABI, backward (see the header for the arguments) ----", "");
  lines.push(...indent(entryDefinitions(plan, backwardEntryPoints(plan)), 0));
  lines.push("", "#endif  // MHC_NO_BACKWARD");
  return finishSection(lines, fileName, offset);
}

/** The backward prototypes appended to `<symbol>.h`. */
export function backwardHeaderSection(plan: ConnectionPlan): string {
  const guard = `MHC_${plan.symbol.toUpperCase()}_BACKWARD_H`;
  const lines = [
    "",
    `/* ---- backward (design.md 4.2 item 5); mhc_${plan.symbol}_pre with the same workspace, then`,
    `   mhc_${plan.symbol}_save_stats, keep what the backward needs of the forward. ---- */`,
    `#ifndef ${guard}`,
    `#define ${guard}`,
    "",
    `#define MHC_${plan.symbol.toUpperCase()}_STATS_WIDTH ${statsWidth(plan)}`,
    "",
    "#ifdef __cplusplus",
    `extern "C" {`,
    "#endif",
    "",
  ];
  for (const ep of backwardEntryPoints(plan)) {
    lines.push(`/* ${ep.doc}. */`);
    for (const a of ep.args) lines.push(`/*   ${a.name}: ${a.doc}${a.shape ? ` [${a.shape.join(", ")}]` : ""}${a.dtype && a.role !== "scalar" && a.role !== "stream" ? ` ${a.dtype}` : ""} */`);
    lines.push(`${prototype(ep)};`, "");
  }
  lines.push("#ifdef __cplusplus", `}  /* extern "C" */`, "#endif", "", `#endif /* ${guard} */`);
  return lines.join("\n") + "\n";
}
