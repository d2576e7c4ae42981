import { describe, expect, it } from "vitest";
import { distIndex, emitConstraintLanes } from "../../../compiler/codegen/cuda/emit-constraint-lanes.js";
import { generateCuda, instantiateConnection } from "../../../compiler/codegen/cuda/index.js";
import { COEF_LANE_GROUP_MIN_N } from "../../../compiler/codegen/cuda/knobs.js";
import { planConnection } from "../../../compiler/codegen/cuda/plan.js";
import type { CheckResult } from "../../../compiler/driver.js";
import { balanced, check, withCheckedSource } from "./helpers.js";

const tiny = check("examples/tiny.mhc");
const gpu = check("scripts/gpu/connections.mhc");

function plan(result: CheckResult, connection: string, n: number) {
  return planConnection(result, instantiateConnection(result, connection, { n }), `c${n}`);
}

/** The res map's lane-group emission of a connection at n. */
function lanes(result: CheckResult, connection: string, n: number) {
  const p = plan(result, connection, n);
  return emitConstraintLanes(p.maps.res.graph!, { name: "f", group: n, reroll: true });
}

const GRAM = `constraint gram(L: [n, n]) -> [n, n] {
  return softmax_rows(L.T @ L)
}
connection gram_conn(n: int = 8) {
  streams n
  norm rms(eps = 1e-6)
  alpha 0.01
  pre  dynamic sigmoid_eps(eps = 1e-6)
  post dynamic scaled_sigmoid(scale = 2.0)
  res  dynamic gram()
}
`;

describe("CUDA target: the res constraint on lane groups", () => {
  it("emits the prelude Sinkhorn at n = 16 with one row a lane, butterflies across the group and one rolled loop", () => {
    const r = lanes(tiny, "mhc", 16);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const fn = r.fn;
    expect([fn.group, fn.inputLocal, fn.outputLocal, fn.loops]).toEqual([16, 16, 16, 1]);
    expect(fn.inputLayout).toEqual({ kind: "dist", axis: 0 });
    expect(fn.outputLayout).toEqual({ kind: "dist", axis: 0 });
    expect(fn.inputIndex("j")).toBe("r * 16 + j");
    const text = fn.lines.join("\n");
    expect(text).toContain("void f(const float (&L)[16], float (&H)[16], const int r)");
    expect(text).toContain("for (int it = 0; it < 19; ++it)");
    // Column sums across the group, the softmax over the columns by max and sum butterflies; no array of n*n floats.
    expect(text.match(/mhc::lanes_sum<16>/g)?.length).toBe(2);
    expect(text).toContain("mhc::lanes_max<16>");
    expect(text).not.toMatch(/\[256\]/);
    expect(balanced(text)).toBe(true);
  });

  it("has a lane form for every prelude family and the user constraints at n = 8 and 16", () => {
    for (const n of [8, 16]) {
      for (const c of ["gpu_sinkhorn_log", "gpu_ortho", "gpu_tempered", "gpu_lazy", "gpu_mixed", "gpu_stream_rms"]) {
        const r = lanes(gpu, c, n);
        expect(r.ok, `${c} at n = ${n}`).toBe(true);
      }
    }
  });

  it("reads the other lanes' rows or columns by shuffles in X @ X.T @ X (orthostochastic)", () => {
    const r = lanes(gpu, "gpu_ortho", 8);
    if (!r.ok) throw new Error(r.reason);
    const text = r.fn.lines.join("\n");
    // The Frobenius norm sums over the group; each matmul reads another lane's element per product
    // (two matmuls of the first step before the rolled loop, two inside it); the transposes move nothing.
    expect(text).toContain("mhc::lanes_sum<8>");
    expect(text.match(/mhc::lane_read<8>/g)?.length).toBe(4);
    expect(text).toContain("for (int q = 0; q < 8; ++q) acc = fmaf(v7[q], mhc::lane_read<8>(v7[q], c), acc);");
  });

  it("rejects what it has no lane form for, with a reason: a group that is no power of two, a sum across the group into a matrix", () => {
    const odd = emitConstraintLanes(plan(tiny, "mhc", 8).maps.res.graph!, { name: "f", group: 6 });
    expect(odd.ok).toBe(false);
    withCheckedSource(GRAM, (result) => {
      const r = lanes(result, "gram_conn", 8);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain("matmul");
    });
  });

  it("chooses at generation time: lane groups from COEF_LANE_GROUP_MIN_N at powers of two, else the per-thread function", () => {
    expect(COEF_LANE_GROUP_MIN_N).toBe(8);
    expect(plan(tiny, "mhc", 2).resLanes).toBeUndefined();
    expect(plan(tiny, "mhc", 3).resLanes).toBeUndefined();
    expect(plan(tiny, "mhc", 6).resLanes).toBeUndefined();
    expect(plan(tiny, "mhc", 4).resLanes).toBeUndefined();
    expect(plan(gpu, "gpu_tempered", 12).resLanes).toBeUndefined();
    expect(plan(tiny, "mhc", 8).resLanes?.group).toBe(8);
    expect(plan(tiny, "mhc", 16).resLanes?.group).toBe(16);
    withCheckedSource(GRAM, (result) => expect(plan(result, "gram_conn", 8).resLanes).toBeUndefined());
  });

  it("runs the res map of the coefficient kernel on lane groups at n = 16 and keeps one lane per token at n = 3 and for a rejected graph", () => {
    const big = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 16 }), { name: "m16", compilerVersion: "test" }).files.get("m16.cu")!;
    expect(big).toContain("__device__ __noinline__ void token_res_lanes(");
    expect(big).toContain("token_res_lanes(t0 + tc, s_proj + tc * K, rinv, s_alpha, s_bias_res, h_res, store && tg < count, tt % N);");
    expect(big).toContain("for (int j = 0; j < 16; ++j) h_res[t * N * N + r * 16 + j] = H_res[j];");
    expect(big).not.toContain("token_res(");
    // The pre-mix is the warps that run no res map: warps 0, 3.. (COEF_MIX_EARLY threads).
    expect(big).toContain("mhc::PremixItems<TR, N, VEC> mix(t0, count, C, rank, COEF_MIX_EARLY);");
    expect(big).toContain("if (mix_early) mix.finish(x, u, s_pre);");
    const small = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 3 }), { name: "mhc", compilerVersion: "test" }).files.get("mhc.cu")!;
    expect(small).not.toContain("lanes");
    expect(small).toContain("token_res(t0 + tt, s_proj + tt * K, rinv, s_alpha, s_bias_res, h_res, store);");
    withCheckedSource(GRAM, (result) => {
      const text = generateCuda(result, instantiateConnection(result, "gram_conn", { n: 8 }), { name: "g8", compilerVersion: "test" }).files.get("g8.cu")!;
      expect(text).not.toContain("token_res_lanes");
      expect(text).toContain("token_res(t0 + tt,");
    });
  });

  it("maps a lane's local element to the flat index of the whole value", () => {
    expect(distIndex([16, 16], 0, 16, "j")).toBe("r * 16 + j");
    expect(distIndex([16, 16], 1, 16, "j")).toBe("j * 16 + r");
    expect(distIndex([16], 0, 16, "j")).toBe("r");
    expect(distIndex([2, 8, 3], 1, 8, "j")).toBe("(j) / 3 * 24 + r * 3 + (j) % 3");
  });

  it("takes a per-stream projection's logits where the per-thread code does (stream l % N, column l / N)", () => {
    const text = generateCuda(gpu, instantiateConnection(gpu, "gpu_stream_rms", { n: 8 }), { name: "s8", compilerVersion: "test" }).files.get("s8.cu")!;
    expect(text).toMatch(/const int l = r \* 8 \+ j;\s+const int row = l % N, col = l \/ N;/);
  });
});
