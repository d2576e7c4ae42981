import { SLOTS, type Slot } from "../../sema/checked.js";
import { ALPHA_INDEX } from "../../lower/parameters.js";
import { LINE_RESTORE } from "./emit-constraint.js";
import type { LaneConstraintFunction } from "./emit-constraint-lanes.js";
import { BLOCK_THREADS } from "./knobs.js";
import { perStreamSource, type ConnectionPlan } from "./plan.js";
import type { SourceSet } from "../../source/source-set.js";
import type { SourceOptions } from "./source.js";

/*
 * Kernel 2 of design.md 4.2 (coefficients and pre-mix) as CUDA text: the per-token
 * norm, logits and constraint calls of each map, and the kernel that runs them beside
 * the pre-mix. The constraint functions themselves come from emit-constraint.ts.
 */

/** `#line` back to a span of the .mhc source (none without a span or its text). */
function lineDirective(sources: SourceSet, span: { readonly file: string; readonly start: number } | undefined): string[] {
  if (!span) return [];
  const file = sources.get(span.file);
  if (!file) return [];
  return [`#line ${file.positionAt(span.start).line} ${JSON.stringify(span.file)}`];
}

/** The logits and constraint of one map, for the per-token functions of kernel 2 (H_<slot>[] in registers). */
function mapCoefficients(plan: ConnectionPlan, options: SourceOptions, slot: Slot): string[] {
  const n = plan.n;
  const m = plan.maps[slot];
  const k = m.k;
  const H = `H_${slot}`;
  const L = `L_${slot}`;
  const lines = [`// ${slot}: ${m.info.mode} ${m.info.constraint}`, ...lineDirective(options.sources, options.mapSpans?.[slot]), `float ${L}[${Math.max(1, k)}];`];
  // Per-stream projection: logit l is stream `row`'s projection column `col` of this map (plan.ts perStreamSource).
  const perStream = m.column !== undefined && plan.rows > 1;
  const v = perStream ? "l" : "i";
  const logit = logitAt(plan, slot, v);
  if (m.column !== undefined) lines.push(`const float alpha_${slot} = alpha[${ALPHA_INDEX[slot]}];`);
  const loop = `for (int ${v} = 0; ${v} < ${k}; ++${v})`;
  lines.push("#pragma unroll", ...(perStream ? [`${loop} {`, ...logit.index, `${L}[${v}] = ${logit.value};`, "}"] : [`${loop} ${L}[${v}] = ${logit.value};`]));
  lines.push(`float ${H}[${slot === "res" ? n * n : n}];`, `constraint_${slot}(${L}, ${H});`);
  if (options.mapSpans?.[slot]) lines.push(LINE_RESTORE);
  return lines;
}

/** Logit `l` (an int expression) of a map: its projection scaled by 1 / r, alpha (the local `alpha_<slot>`) and the bias; shared by the per-thread and lane-group logits. */
function logitAt(plan: ConnectionPlan, slot: Slot, l: string): { readonly index: string[]; readonly value: string } {
  const m = plan.maps[slot];
  if (m.column === undefined) return { index: [], value: `bias_${slot}[${l}]` };
  const a = `alpha_${slot}`;
  if (plan.rows > 1) {
    const src = perStreamSource(plan, m);
    const row = src.row === "l" ? "l" : "row";
    const at = [`${row} * K`, ...(m.column === 0 ? [] : [String(m.column)]), ...(src.col === "0" ? [] : ["col"])].join(" + ");
    const proj = `proj[${at}] * rinv[${row}]`;
    const dyn = m.info.mode === "dynamic tanh" ? `tanhf(${proj})` : proj;
    return { index: src.row === "l" ? [] : [`const int row = ${src.row}, col = ${src.col};`], value: `${dyn} * ${a} + bias_${slot}[${l}]` };
  }
  const proj = `proj[${m.column === 0 ? l : `${m.column} + ${l}`}] * rinv`;
  const dyn = m.info.mode === "dynamic tanh" ? `tanhf(${proj})` : proj;
  return { index: [], value: `${dyn} * ${a} + bias_${slot}[${l}]` };
}

/** Kernel 2's res map for one token on a group of N lanes: lane r's logits, the lane-group constraint, lane r's part of H_res stored. */
function tokenResLanes(plan: ConnectionPlan, options: SourceOptions, fn: LaneConstraintFunction): string[] {
  const m = plan.maps.res;
  const rinvParam = plan.rows > 1 ? "const float* rinv" : "float rinv";
  const logit = logitAt(plan, "res", "l");
  return [
    "// Kernel 2, one token's res map on a group of N lanes (r: this lane's place in the group; every lane of the",
    "// warp calls it, for shuffles): lane r computes its part of the logits and stores its part of H_res.",
    `__device__ __noinline__ void token_res_lanes(int64_t t, const float* proj, ${rinvParam}, const float* __restrict__ alpha, const float* __restrict__ bias_res, float* __restrict__ h_res, bool store, const int r) {`,
    ...(m.column === undefined ? ["(void)proj; (void)rinv; (void)alpha;"] : []),
    `// res: ${m.info.mode} ${m.info.constraint}`,
    ...lineDirective(options.sources, options.mapSpans?.res),
    `float L_res[${fn.inputLocal}];`,
    ...(m.column === undefined ? [] : [`const float alpha_res = alpha[${ALPHA_INDEX.res}];`]),
    "#pragma unroll",
    `for (int j = 0; j < ${fn.inputLocal}; ++j) {`,
    `const int l = ${fn.inputIndex("j")};`,
    ...logit.index,
    `L_res[j] = ${logit.value};`,
    "}",
    `float H_res[${fn.outputLocal}];`,
    "constraint_res_lanes(L_res, H_res, r);",
    ...(options.mapSpans?.res ? [LINE_RESTORE] : []),
    "if (store) {",
    "#pragma unroll",
    `for (int j = 0; j < ${fn.outputLocal}; ++j) h_res[t * N * N + ${fn.outputIndex("j")}] = H_res[j];`,
    "}",
    "}",
    "",
  ];
}

/**
 * 1 / r per stream, `float rinv[N]`, for a per-stream projection from the token's N row sums of squares
 * `ss[i]` (sublayer-graph.ts): rms_stream: each stream over its C values; rms: one r over all N*C values;
 * none: 1. Shared by the forward's coefficient kernel and the backward's (stride: floats between rows).
 */
export function perStreamNorm(norm: ConnectionPlan["info"]["norm"], stride?: string): string[] {
  const at = (i: string): string => (stride === undefined ? `ss[${i}]` : `ss[${i} * ${stride}]`);
  if (norm.kind === "rms_stream") {
    return [`// norm rms_stream(eps = ${norm.eps}): 1 / r_i, r_i = sqrt(mean(x[t, i, :]^2) + eps) over each stream's C values`, "float rinv[N];", "#pragma unroll", `for (int i = 0; i < N; ++i) rinv[i] = 1.0f / sqrtf(${at("i")} / (float)C + NORM_EPS);`];
  }
  if (norm.kind === "rms") {
    return [
      `// norm rms(eps = ${norm.eps}): one 1 / r, r = sqrt(mean(xf^2) + eps) over all n*C values (the streams' sums added in order)`,
      "float sum = 0.0f;",
      "#pragma unroll",
      `for (int i = 0; i < N; ++i) sum += ${at("i")};`,
      "const float r_inv = 1.0f / sqrtf(sum / ((float)N * (float)C) + NORM_EPS);",
      "float rinv[N];",
      "#pragma unroll",
      "for (int i = 0; i < N; ++i) rinv[i] = r_inv;",
    ];
  }
  return ["// norm none", "float rinv[N];", "#pragma unroll", "for (int i = 0; i < N; ++i) rinv[i] = 1.0f;", "(void)C;"];
}

/**
 * The arguments kernel 2 hands the map functions for the block's token `t` (an int expression): its split-K
 * projections in shared memory and the lines that form its 1 / r (`rinv`, a float or, per stream, N of them).
 */
function tokenArguments(plan: ConnectionPlan, t: string): { readonly proj: string; readonly norm: string[] } {
  const K = plan.k;
  if (plan.rows > 1) {
    return { proj: K > 0 ? `s_proj + ${t} * ROWS * K` : "nullptr", norm: ["float rinv[N];", `token_norm(C, ${K > 0 ? `s_ss + ${t} * ROWS` : "nullptr"}, rinv);`] };
  }
  return { proj: K > 0 ? `s_proj + ${t} * K` : "nullptr", norm: [`const float rinv = token_norm(C, ${K > 0 ? `s_ss[${t}]` : "0.0f"});`] };
}

/**
 * Warps 1 and 2 of kernel 2 walk the block's tokens in lane groups: a warp takes 32 / N tokens at a time,
 * the two warps alternating. A group past the block's last token reruns that token without storing, so
 * every lane of the warp reaches each shuffle.
 */
function resLaneLoop(plan: ConnectionPlan): string[] {
  const { proj, norm } = tokenArguments(plan, "tc");
  return [
    "static_assert(32 % N == 0, \"a whole number of lane groups per warp\");",
    "#pragma unroll 1",
    "for (int g0 = (warp - 1) * (32 / N); g0 < count; g0 += 2 * (32 / N)) {",
    "const int tg = g0 + tt / N;",
    "const int tc = tg < count ? tg : count - 1;",
    ...norm,
    `token_res_lanes(t0 + tc, ${proj}, rinv, s_alpha, s_bias_res, h_res, store && tg < count, tt % N);`,
    "}",
  ];
}

/**
 * The gates (alpha [3]) and each map's biases ([k]) in one shared array (s_alpha and s_bias_<slot> point
 * into it; the per-token map functions take these pointers in place of the global ones). load: thread i
 * loads parameters i, i + BLOCK_THREADS, .. into registers (before the wait); store: into shared memory
 * (after the split-K sums were issued, so that the two loads' latencies overlap; the barrier after
 * the sums publishes both).
 */
function parameterStaging(plan: ConnectionPlan): { readonly load: string[]; readonly store: string[] } {
  let offset = 3;
  const at: Record<Slot, number> = { pre: 0, post: 0, res: 0 };
  const ranges: string[] = [];
  for (const slot of SLOTS) {
    const k = plan.maps[slot].k;
    at[slot] = offset;
    if (k > 0) ranges.push(`i < ${offset + k} ? bias_${slot}[i - ${offset}]`);
    offset += k;
  }
  const per = Math.ceil(offset / BLOCK_THREADS);
  const load = [
    `// Gates and biases: alpha, then bias_pre, bias_post, bias_res (${offset} floats), thread i holds i, i + ${BLOCK_THREADS}, ..`,
    `float param[${per}];`,
    "#pragma unroll",
    `for (int j = 0; j < ${per}; ++j) {`,
    `const int i = (int)threadIdx.x + j * ${BLOCK_THREADS};`,
    `param[j] = i < 3 ? alpha[i] : ${ranges.map((r) => `${r} : `).join("")}0.0f;`,
    "}",
  ];
  const store = [
    `__shared__ float s_params[${offset}];`,
    "#pragma unroll",
    `for (int j = 0; j < ${per}; ++j) {`,
    `const int i = (int)threadIdx.x + j * ${BLOCK_THREADS};`,
    `if (i < ${offset}) s_params[i] = param[j];`,
    "}",
    "const float* const s_alpha = s_params;",
    ...SLOTS.map((slot) => `const float* const s_bias_${slot} = s_params + ${at[slot]};`),
  ];
  return { load, store };
}

/** Kernel 2: split-K reduction, norm, logits, constraints, coefficient stores, pre-mix. */
export function coefficientKernel(plan: ConnectionPlan, options: SourceOptions): string[] {
  const K = plan.k;
  const info = plan.info;
  const bias = (slot: Slot): string => `const float* __restrict__ bias_${slot}`;
  const biasArgs = SLOTS.map(bias).join(", ");
  const usesProj = (slot: Slot): boolean => plan.maps[slot].column !== undefined;
  // Per-stream projection (plan.rows = N): a token's N prenorm rows, N sums of squares and N values of 1 / r.
  const perStream = plan.rows > 1;
  const rows = perStream ? " * ROWS" : "";  // split-K rows per token, as a factor of the generated text
  const rinvParam = perStream ? "const float* rinv" : "float rinv";
  const size = (slot: Slot): string => (slot === "res" ? "N * N" : "N");
  // The res map on lane groups (plan.ts resLanes): its function is emitted here beside the kernel.
  const lanes = plan.resLanes;
  const params = parameterStaging(plan);
  // What the kernel reads first (x's first pre-mix items, the parameters), and its wait for the kernel before it.
  const firstLoads = ["if (mix_early && x_early) mix.load_first(x);", ...params.load];
  const wait = ["mhc::wait_prior_grids();", "mhc::allow_dependent_grids();"];
  const lines = [
    // (Its lines are re-indented with the kernel's.)
    ...(lanes ? ["// ---- the res constraint on lane groups, generated from the IR (emit-constraint-lanes.ts) ----", "", ...lanes.globals, ...(lanes.globals.length > 0 ? [""] : []), ...lanes.lines.map((l) => l.trimStart()), ""] : []),
    "// Kernel 2, one token's norm: 1 / r from its split-K sum of squares. Every constraint warp computes it for",
    "// itself (the same operations, so the same bits) instead of waiting for another warp's.",
    perStream ? "__device__ __forceinline__ void token_norm(int64_t C, const float* ss, float (&rinv_out)[N]) {" : "__device__ __forceinline__ float token_norm(int64_t C, float ss) {",
  ];
  if (K > 0) {
    lines.push(...lineDirective(options.sources, options.declSpan));
    if (perStream) {
      lines.push(...perStreamNorm(info.norm), ...(info.norm.kind === "none" ? ["(void)ss;"] : []), "#pragma unroll", "for (int i = 0; i < N; ++i) rinv_out[i] = rinv[i];");
    } else if (info.norm.kind === "rms") {
      lines.push(`// norm rms(eps = ${info.norm.eps}): 1 / r, r = sqrt(mean(xf^2) + eps) over all n*C values`, "const float rinv = 1.0f / sqrtf(ss / ((float)N * (float)C) + NORM_EPS);");
    } else {
      lines.push("// norm none", "const float rinv = 1.0f;", "(void)ss;", "(void)C;");
    }
    if (options.declSpan) lines.push(LINE_RESTORE);
    if (!perStream) lines.push("return rinv;");
  } else {
    lines.push("// no map has a projection: no norm", "(void)C; (void)ss;", ...(perStream ? ["#pragma unroll", "for (int i = 0; i < N; ++i) rinv_out[i] = 1.0f;"] : ["return 1.0f;"]));
  }
  lines.push("}", "");
  for (const slot of SLOTS) {
    const pre = slot === "pre";
    if (slot === "res" && lanes) {
      lines.push(...tokenResLanes(plan, options, lanes));
      continue;
    }
    lines.push(
      `// Kernel 2, one token's ${slot} map (logits, constraint): stored by the blocks of blockIdx.y == 0${pre ? ", kept in shared memory for the pre-mix" : ""}.`,
      "// Not inlined: the kernel's instantiations share one compiled copy of the constraint code.",
      `__device__ __noinline__ void token_${slot}(int64_t t, const float* proj, ${rinvParam}, const float* __restrict__ alpha, ${bias(slot)}, float* __restrict__ h_${slot}, bool store${pre ? ", float* pre_row" : ""}) {`,
      ...(usesProj(slot) ? [] : ["(void)proj; (void)rinv; (void)alpha;"]),
      ...mapCoefficients(plan, options, slot),
      "if (store) {",
      "#pragma unroll",
      `for (int i = 0; i < ${size(slot)}; ++i) h_${slot}[t * ${size(slot)} + i] = H_${slot}[i];`,
      "}",
      ...(pre ? ["#pragma unroll", "for (int i = 0; i < N; ++i) pre_row[i] = H_pre[i];"] : []),
      "}",
      "",
    );
  }
  const { proj, norm } = tokenArguments(plan, "tt");
  const tokenCall = (slot: Slot): string[] => [
    "if (tt < count) {",
    ...norm,
    `token_${slot}(t0 + tt, ${proj}, rinv, s_alpha, s_bias_${slot}, h_${slot}, store${slot === "pre" ? ", s_pre + tt * N" : ""});`,
    "}",
  ];
  lines.push(
    "// Kernel 2 (design 4.2 item 2). Block = up to COEF_TOKENS tokens x a slice of the channels (blockIdx.y).",
    ...(K > 0
      ? [
          "// Phase 0: the whole block sums its tokens' split-K partials into shared memory, in a fixed order",
          "// (mhc::sum_split_partials: deterministic, the same bits in every block that holds the token); the",
          "// pre-mix threads' first x vectors are already in flight.",
        ]
      : []),
    ...(lanes
      ? [
          "// Phase 1: warp 0 the pre map and warp 2 the post map, one lane per token, while warp 1 starts the res map (the",
          "// longest) on groups of N lanes per token (32 / N tokens a warp at a time, warps 1 and 2 taking turns over the",
          "// block's tokens; each its own norm); blockIdx.y == 0 stores the coefficients. The pre-mix u = sum_i H_pre[i] x[i, :]",
          "// of the block's tokens and channels is warps 0, 3.. alone (COEF_MIX_EARLY threads) and waits only for warp 0.",
        ]
      : [
          "// Phase 1, one lane per token in three warps at once: warp 0 the pre map, warp 1 the post map, warp 2 the res",
          "// map (each its own norm); blockIdx.y == 0 stores the coefficients. The pre-mix u = sum_i H_pre[i] x[i, :] of",
          "// the block's tokens and channels waits only for warp 0 (named barriers): warps 0, 3.. take the first",
          "// COEF_MIX_EARLY items, so the post and res warps join only where a block has more items than that.",
        ]),
    "// Launched overlapped (mhc_pdl.cuh): the blocks may start while the prenorm GEMM runs, load what the GEMM does",
    "// not write and wait for its end before reading its partials; then the post kernel may start its blocks (they",
    "// wait for this kernel's end).",
    "template <typename TR, int VEC>",
    `__global__ void __launch_bounds__(${BLOCK_THREADS}) coefficients_kernel(const TR* __restrict__ x, int64_t T, int64_t C, int tpb, int64_t splits,`,
    `    const float* __restrict__ proj_part, const float* __restrict__ ss_part, const float* __restrict__ alpha, ${biasArgs},`,
    "    float* __restrict__ h_pre, float* __restrict__ h_post, float* __restrict__ h_res, TR* __restrict__ u, bool x_early) {",
    "static_assert(COEF_TOKENS <= 32, \"a token per lane of each constraint warp\");",
    `static_assert(COEF_MIX_EARLY == ${BLOCK_THREADS} - 64, "warps 1 and 2 run the post and res maps");`,
    "__shared__ float s_pre[COEF_TOKENS * N];",
    "const int64_t t0 = (int64_t)blockIdx.x * tpb;",
    "const int count = (int)(T - t0 < tpb ? T - t0 : tpb);",
    "const int warp = (int)threadIdx.x >> 5, tt = (int)threadIdx.x & 31;",
    "const bool store = blockIdx.y == 0;",
    "const bool mix_early = warp == 0 || warp >= 3;",
    "// Pre-mix rank: warps 0, 3, 4, .. first, then warps 1 and 2.",
    "const int rank = warp == 0 ? tt : warp >= 3 ? (warp - 2) * 32 + tt : COEF_MIX_EARLY + (warp - 1) * 32 + tt;",
    `mhc::PremixItems<TR, N, VEC> mix(t0, count, C, rank, ${lanes ? "COEF_MIX_EARLY" : BLOCK_THREADS});`,
    ...(K > 0
      ? [
          "// Before the wait, only what the prenorm GEMM (the kernel before this one, which lets it start only after its",
          "// own wait: every kernel before the GEMM has completed) does not write: the first pre-mix items of x (unless",
          "// that kernel wrote x: x_early false, the post fused in front of the GEMM), the gates and the biases. The maps",
          "// read the parameters from shared memory, so their latency overlaps the GEMM's tail instead of following the sums.",
          ...firstLoads,
          ...wait,
          "if (mix_early && !x_early) mix.load_first(x);",
        ]
      : [
          "// No prenorm GEMM runs before this kernel: the kernel before it may still be writing x (the previous post),",
          "// so nothing is read before the wait.",
          ...wait,
          "(void)x_early;",
          "if (mix_early) mix.load_first(x);",
          ...params.load,
        ]),
    ...(K > 0
      ? [
          ...(perStream ? ["// Per-stream projection: token t's rows are t * ROWS .. t * ROWS + ROWS - 1 of the partials."] : []),
          `__shared__ float s_proj[COEF_TOKENS${rows} * K];`,
          `__shared__ float s_ss[COEF_TOKENS${rows}];`,
          `__shared__ float s_tmp[${BLOCK_THREADS}];`,
          `mhc::sum_split_partials<K>(proj_part, ss_part, T${rows}, t0${rows}, count${rows}, splits, s_proj, s_ss, s_tmp);`,
          ...params.store,
          "__syncthreads();",
        ]
      : ["(void)splits; (void)proj_part; (void)ss_part;", ...params.store, "__syncthreads();"]),
    "if (warp == 0) {",
    ...tokenCall("pre"),
    "__syncwarp();",
    "mhc::named_arrive(1, COEF_MIX_EARLY);  // H_pre of the block's tokens is in s_pre: warps 3..",
    "mhc::named_arrive(2, 96);  // ... and warps 1, 2",
    ...(lanes
      ? [
          "} else if (warp == 1 || warp == 2) {",
          ...(["if (warp == 2) {", ...tokenCall("post"), "}", "__syncwarp();"]),
          ...resLaneLoop(plan),
          "mhc::named_sync(2, 96);",
        ]
      : ["} else if (warp == 1) {", ...tokenCall("post"), "mhc::named_sync(2, 96);", "} else if (warp == 2) {", ...tokenCall("res"), "mhc::named_sync(2, 96);"]),
    "} else {",
    "mhc::named_sync(1, COEF_MIX_EARLY);",
    "}",
    // Lane groups: warps 1 and 2 run the res map alone, the pre-mix is the other warps' (H100, n = 16: 613 -> 538 us).
    lanes ? "if (mix_early) mix.finish(x, u, s_pre);" : "mix.finish(x, u, s_pre);",
    "}",
  );
  return lines;
}
