import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitConstraintFunction, floatLiteral } from "../../../compiler/codegen/cuda/emit-constraint.js";
import { emitConstraintLanes, type LaneConstraintFunction } from "../../../compiler/codegen/cuda/emit-constraint-lanes.js";
import { instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import { planConnection } from "../../../compiler/codegen/cuda/plan.js";
import type { CheckResult } from "../../../compiler/driver.js";
import { interpret } from "../../../compiler/ir/interpret.js";
import { check } from "./helpers.js";

/*
 * The lane-group constraint code run for real, without a GPU: each case's generated lane
 * function and per-thread function are compiled with g++ for the host, the G lanes of a group
 * become G threads whose shuffles meet at a barrier (the same xor butterflies as
 * mhc_lanes.cuh), and both results are compared with the float64 interpreter on the same
 * logits, as the GPU verification does for whole kernels.
 */

const cxx = ["g++", "c++"].find((c) => spawnSync(c, ["--version"]).status === 0);
const tiny = check("examples/tiny.mhc");
const gpu = check("scripts/gpu/connections.mhc");
const dir = mkdtempSync(join(tmpdir(), "mhc-lanes-host-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Host stand-ins for mhc_common.cuh and mhc_lanes.cuh: the same scalar semantics, lanes as threads. */
const SHIM = String.raw`#include <barrier>
#include <cmath>
#include <math.h>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>
#define __device__
#define __forceinline__ inline
#define __constant__
namespace mhc {
inline float sigmoid(float x) { if (x >= 0.0f) return 1.0f / (1.0f + expf(-x)); const float e = expf(x); return e / (1.0f + e); }
inline float softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
inline float relu(float x) { return x > 0.0f ? x : (x != x ? x : 0.0f); }
inline float sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? x : 0.0f)); }
inline float max_nan(float a, float b) { return (a != a || b != b) ? NAN : fmaxf(a, b); }
inline float min_nan(float a, float b) { return (a != a || b != b) ? NAN : fminf(a, b); }
inline float round_bf16(float x) {
  if (x != x) return x;
  uint32_t u; std::memcpy(&u, &x, 4); u += 0x7fffu + ((u >> 16) & 1u); u &= 0xffff0000u;
  float r; std::memcpy(&r, &u, 4); return r;
}
inline float to_i32(float x) { if (x != x) return 0.0f; if (x >= 2147483647.0f) return 2147483647.0f; if (x <= -2147483648.0f) return -2147483648.0f; return truncf(x); }
inline float fdiv(float a, float b) { return a / b; }
inline float rcp_normal(float x) { return 1.0f / x; }
inline float lse_finish(float m, float s) { return std::isinf(m) ? m : m + logf(s); }
// One group: lane r is a thread; a shuffle publishes every lane's value, then reads one.
struct Group { std::barrier<>* bar; float slot[32]; };
thread_local int t_lane = 0;
thread_local Group* t_group = nullptr;
inline float exchange(float v, int src) {
  t_group->slot[t_lane] = v; t_group->bar->arrive_and_wait();
  const float got = t_group->slot[src]; t_group->bar->arrive_and_wait();
  return got;
}
template <int G> float lanes_sum(float v) { for (int o = G / 2; o > 0; o >>= 1) v += exchange(v, t_lane ^ o); return v; }
template <int G> float lanes_max(float v) { for (int o = G / 2; o > 0; o >>= 1) v = max_nan(v, exchange(v, t_lane ^ o)); return v; }
template <int G> float lanes_min(float v) { for (int o = G / 2; o > 0; o >>= 1) v = min_nan(v, exchange(v, t_lane ^ o)); return v; }
template <int G> float lane_read(float v, int src) { return exchange(v, src); }
}  // namespace mhc
`;

interface Case {
  readonly label: string;
  readonly result: CheckResult;
  readonly connection: string;
  readonly n: number;
}

const CASES: Case[] = [
  { label: "sinkhorn (prelude mhc), n = 16", result: tiny, connection: "mhc", n: 16 },
  { label: "sinkhorn (prelude mhc), n = 8", result: tiny, connection: "mhc", n: 8 },
  { label: "sinkhorn (prelude mhc), n = 4", result: tiny, connection: "mhc", n: 4 },
  { label: "orthostochastic, n = 4", result: gpu, connection: "gpu_ortho", n: 4 },
  { label: "sinkhorn_log, n = 16", result: gpu, connection: "gpu_sinkhorn_log", n: 16 },
  { label: "orthostochastic, n = 8", result: gpu, connection: "gpu_ortho", n: 8 },
  { label: "a user constraint (tempered), n = 8", result: gpu, connection: "gpu_tempered", n: 8 },
  { label: "a user constraint (lazy), n = 16", result: gpu, connection: "gpu_lazy", n: 16 },
];

/** Deterministic logits in [-2, 2) (a small LCG), TOKENS x size. */
function logits(count: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround((s / 2 ** 32) * 4 - 2);
  });
}

const TOKENS = 3;

interface Built {
  readonly c: Case;
  readonly graph: NonNullable<ReturnType<typeof planConnection>["maps"]["res"]["graph"]>;
  readonly inputShape: readonly number[];
  readonly k: number;
  readonly values: readonly number[];
}

/** One case's code, in its own namespace: both functions and `run()`, which prints per token the per-thread H, then the lane-group H. */
function caseSource(ns: string, ref: { lines: readonly string[]; globals: readonly string[] }, lanes: LaneConstraintFunction, k: number, m: number, values: readonly number[]): string {
  const G = lanes.group;
  const table = values.map((v) => floatLiteral(v)).join(", ");
  return [
    `namespace ${ns} {`,
    ...ref.globals,
    ...lanes.globals,
    ...ref.lines,
    ...lanes.lines,
    `static const float LOGITS[${TOKENS}][${k}] = {${table}};`,
    "void run() {",
    `  for (int t = 0; t < ${TOKENS}; ++t) {`,
    `    float href[${m}];`,
    "    ref_fn(LOGITS[t], href);",
    `    std::vector<std::vector<float>> local(${G}, std::vector<float>(${lanes.outputLocal}));`,
    `    std::barrier<> bar(${G});`,
    "    mhc::Group group{&bar, {}};",
    "    std::vector<std::thread> threads;",
    `    for (int r = 0; r < ${G}; ++r) threads.emplace_back([&, r] {`,
    "      mhc::t_lane = r; mhc::t_group = &group;",
    `      float L[${lanes.inputLocal}];`,
    `      for (int j = 0; j < ${lanes.inputLocal}; ++j) L[j] = LOGITS[t][${lanes.inputIndex("j")}];`,
    `      float H[${lanes.outputLocal}];`,
    "      lane_fn(L, H, r);",
    `      for (int j = 0; j < ${lanes.outputLocal}; ++j) local[r][j] = H[j];`,
    "    });",
    "    for (auto& th : threads) th.join();",
    `    float hl[${m}];`,
    `    for (int r = 0; r < ${G}; ++r) for (int j = 0; j < ${lanes.outputLocal}; ++j) hl[${lanes.outputIndex("j")}] = local[r][j];`,
    `    for (int i = 0; i < ${m}; ++i) std::printf("%.9g ", href[i]);`,
    '    std::printf("\\n");',
    `    for (int i = 0; i < ${m}; ++i) std::printf("%.9g ", hl[i]);`,
    '    std::printf("\\n");',
    "  }",
    "}",
    `}  // namespace ${ns}`,
    "",
  ].join("\n");
}

/** max |a - b| / max |b| over one token's values. */
function relErr(a: readonly number[], b: readonly number[]): number {
  const scale = Math.max(...b.map(Math.abs), 1e-30);
  return Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number)))) / scale;
}

/** Emits every case into one program (one g++ run), runs it, and returns each case's printed rows; emitter refusals as strings. */
function buildAll(): { built: Built[]; rows: number[][][]; refused: string[] } {
  const built: Built[] = [];
  const refused: string[] = [];
  const parts = [SHIM];
  for (const c of CASES) {
    const plan = planConnection(c.result, instantiateConnection(c.result, c.connection, { n: c.n }), `c${c.n}`);
    const graph = plan.maps.res.graph!;
    const lanes = emitConstraintLanes(graph, { name: "lane_fn", group: c.n, reroll: true });
    if (!lanes.ok) {
      refused.push(`${c.label}: ${lanes.reason}`);
      continue;
    }
    const ref = emitConstraintFunction(graph, { name: "ref_fn", reroll: true });
    const k = ref.inputShape.reduce((a, b) => a * b, 1);
    const m = ref.outputShape.reduce((a, b) => a * b, 1);
    const values = logits(TOKENS * k, 7 * c.n + c.connection.length);
    parts.push(caseSource(`case${built.length}`, ref, lanes.fn, k, m, values));
    built.push({ c, graph, inputShape: ref.inputShape, k, values });
  }
  parts.push("int main() {", ...built.map((_, i) => `  case${i}::run();`), "  return 0;", "}", "");
  writeFileSync(join(dir, "lanes.cpp"), parts.join("\n"));
  const build = spawnSync(cxx as string, ["-std=c++20", "-O1", "-pthread", "-o", join(dir, "lanes"), join(dir, "lanes.cpp")], { encoding: "utf8" });
  if (build.status !== 0) throw new Error(`g++ failed:\n${build.stderr}`);
  const run = spawnSync(join(dir, "lanes"), { encoding: "utf8" });
  if (run.status !== 0) throw new Error(`the host program failed:\n${run.stderr}`);
  const lines = run.stdout.trim().split("\n").map((line) => line.trim().split(/\s+/).map(Number));
  const rows = built.map((_, i) => lines.slice(2 * TOKENS * i, 2 * TOKENS * (i + 1)));
  return { built, rows, refused };
}

describe.runIf(cxx !== undefined)("CUDA target: lane-group constraints run on the host (threads as lanes)", () => {
  let all: ReturnType<typeof buildAll>;
  beforeAll(() => {
    all = buildAll();
  }, 120_000);

  it("has a lane form for every case", () => {
    expect(all.refused).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.label}: the lane group and the per-thread code agree with float64`, () => {
      const i = all.built.findIndex((b) => b.c === c);
      expect(i).toBeGreaterThanOrEqual(0);
      const { graph, inputShape, k, values } = all.built[i] as Built;
      const rows = all.rows[i] as number[][];
      expect(rows.length).toBe(2 * TOKENS);
      for (let t = 0; t < TOKENS; t++) {
        const want = interpret(graph, { L: { shape: inputShape, data: Float64Array.from(values.slice(t * k, (t + 1) * k)) } }, { precision: "f64" })["H"]!;
        const exact = Array.from(want.data);
        const perThread = rows[2 * t] as number[];
        const lanes = rows[2 * t + 1] as number[];
        expect(lanes.every(Number.isFinite)).toBe(true);
        // fp32 arithmetic in another order than float64: the GPU verification's bound, 1e-5.
        expect(relErr(perThread, exact), `per-thread, token ${t}`).toBeLessThan(1e-5);
        expect(relErr(lanes, exact), `lanes, token ${t}`).toBeLessThan(1e-5);
      }
    });
  }
});
