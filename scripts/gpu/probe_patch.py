"""Instruments a copy of one generated variant with phase probes: %globaltimer read at the phase
boundaries of the forward's three kernels (prenorm GEMM, coefficients, post), kept per slot as the
earliest and the latest block (atomicMin / atomicMax), plus the SM clock of block (0, 0) of the
coefficient kernel. The copy gets mhc_probe_reset() / mhc_probe_read(out[64]); probe_decode.py
builds nothing, it reads them. The generated tree itself is not touched.

Usage: python3 scripts/gpu/probe_patch.py SRC_TREE DST_TREE [VARIANT]   (default mhc_n4), then build
DST_TREE/VARIANT with nvcc like build.sh does (MHC_GPU_GEN=DST_TREE bash scripts/gpu/build.sh).
Fails loudly (AssertionError) where a probe's anchor text is not found exactly once.
"""
import json
import os
import re
import shutil
import sys

SLOTS = ["gemm_entry", "gemm_waited", "gemm_end", "coef_before_wait", "coef_waited", "coef_reduced", "coef_pre_map_done",
         "coef_res_map_done", "coef_end", "post_entry", "post_waited", "post_staged", "post_end", "res_constraint_start",
         "res_constraint_end", "coef_sums_loaded", "coef_sums_tree", "gemm_first_step", "gemm_last_step", "gemm_computed"]
CLOCK_SLOTS = (30, 31)  # block (0, 0) of the coefficient kernel: (clock64, globaltimer) after its wait and at its end

PROBE_DEVICE = """namespace mhc {
__device__ unsigned long long probe_t[64];
__device__ __forceinline__ void probe(int slot) {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  atomicMin(&probe_t[2 * slot], t);
  atomicMax(&probe_t[2 * slot + 1], t);
}
__device__ __forceinline__ void probe_clock(int slot) {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  probe_t[2 * slot] = clock64();
  probe_t[2 * slot + 1] = t;
}
"""

PROBE_HOST = """
extern "C" int mhc_probe_reset() {
  unsigned long long init[64];
  for (int i = 0; i < 32; ++i) { init[2 * i] = ~0ull; init[2 * i + 1] = 0ull; }
  return (int)cudaMemcpyToSymbol(mhc::probe_t, init, sizeof init);
}
extern "C" int mhc_probe_read(unsigned long long* out) { return (int)cudaMemcpyFromSymbol(out, mhc::probe_t, 64 * sizeof(unsigned long long)); }
"""


def P(slot, who):
    return f"if ({who}) mhc::probe({SLOTS.index(slot)});"


def replace_once(text, old, new, where):
    assert text.count(old) == 1, (where, old[:70], text.count(old))
    return text.replace(old, new)


def sub_once(text, pattern, repl, where):
    out, count = re.subn(pattern, repl, text, flags=re.S)
    assert count == 1, (where, pattern, count)
    return out


def patch_file(path, edits):
    with open(path) as f:
        text = f.read()
    for kind, a, b in edits:
        text = replace_once(text, a, b, path) if kind == "text" else sub_once(text, a, b, path)
    with open(path, "w") as f:
        f.write(text)


def around_res_constraint(m):
    """Probes before and after the res constraint's call: on a lane group lane 0 of the group probes, on one
    thread per token that thread."""
    indent, call = m.group(1), m.group(2)
    who = "r == 0 && store" if "lanes" in call else "store"
    return f"{indent}{P('res_constraint_start', who)}{indent}{call}{indent}{P('res_constraint_end', who)}"


def main():
    src, dst = sys.argv[1], sys.argv[2]
    variant = sys.argv[3] if len(sys.argv) > 3 else "mhc_n4"
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    shutil.copytree(os.path.join(src, "runtime"), os.path.join(dst, "runtime"))
    shutil.copytree(os.path.join(src, variant), os.path.join(dst, variant))
    with open(os.path.join(src, "variants.json")) as f:
        chosen = [v for v in json.load(f) if v["symbol"] == variant]
    with open(os.path.join(dst, "variants.json"), "w") as f:
        json.dump(chosen, f)
    inc = os.path.join(dst, "runtime", "include")
    # In mhc_common.cuh, which every other header includes first: mhc_reduce.cuh's split-K sums probe too.
    patch_file(os.path.join(inc, "mhc_common.cuh"), [("text", "namespace mhc {\n", PROBE_DEVICE)])
    patch_file(os.path.join(inc, "mhc_reduce.cuh"), [
        # Thread 0 has its split-K values (one batch of loads, added in order); with G == 1 every value of thread 0.
        ("text", "    acc = strided_sum(p, stride, g, splits, G, 0.0f);\n    tmp[w] = acc;\n",
         f"    acc = strided_sum(p, stride, g, splits, G, 0.0f);\n    tmp[w] = acc;\n    {P('coef_sums_loaded', 'w == 0')}\n"),
        ("text", "      if (o < PK) out_proj[o] = acc; else out_ss[o - PK] = acc;\n    }\n    return;\n",
         f"      if (o < PK) out_proj[o] = acc; else out_ss[o - PK] = acc;\n    }}\n    {P('coef_sums_loaded', 'threadIdx.x == 0')}\n    {P('coef_sums_tree', 'threadIdx.x == 0')}\n    return;\n"),
        ("text", "  if (g == 0) {\n    if (o < PK) out_proj[o] = acc; else out_ss[o - PK] = acc;\n  }\n}",
         f"  if (g == 0) {{\n    if (o < PK) out_proj[o] = acc; else out_ss[o - PK] = acc;\n  }}\n  {P('coef_sums_tree', 'threadIdx.x == 0')}\n}}"),
    ])
    patch_file(os.path.join(inc, "mhc_mma.cuh"), [
        ("text", "  wait_prior_grids();\n  allow_dependent_grids();\n\n  float acc[MT][NT][4];",
         f"  {P('gemm_entry', 'tid == 0')}\n  wait_prior_grids();\n  {P('gemm_waited', 'tid == 0')}\n  allow_dependent_grids();\n\n  float acc[MT][NT][4];"),
        # The K loop: every warp past the first step's barrier (its copies landed), past the last step's (the block's
        # last wait), and warp 0 done with its MMAs (the one live warp at small T), before the partials' stores.
        ("text", "    if constexpr (!PRESPLIT) __syncthreads();  // the parts are visible\n    compute(step % STAGES);\n  }\n  cp_async_wait<0>();\n",
         f"    if constexpr (!PRESPLIT) __syncthreads();  // the parts are visible\n    if (step == 0) {{ {P('gemm_first_step', 'tid == 0')} }}\n"
         f"    if (step == steps - 1) {{ {P('gemm_last_step', 'tid == 0')} }}\n    compute(step % STAGES);\n  }}\n  cp_async_wait<0>();\n  {P('gemm_computed', 'tid == 0')}\n"),
        ("text", "      if (wn == 0 && tq == (g >> 1)) ss_part[sp * T + t] = ss[m][h];\n    }\n  }\n}",
         f"      if (wn == 0 && tq == (g >> 1)) ss_part[sp * T + t] = ss[m][h];\n    }}\n  }}\n  {P('gemm_end', 'lane == 0')}\n}}"),
    ])
    patch_file(os.path.join(inc, "mhc_mix.cuh"), [
        ("text", "  wait_prior_grids();  // launched overlapped", f"  {P('post_entry', 'threadIdx.x == 0')}\n  wait_prior_grids();  // launched overlapped"),
        ("text", "  allow_dependent_grids();  // a kernel launched overlapped after this one",
         f"  {P('post_waited', 'threadIdx.x == 0')}\n  allow_dependent_grids();  // a kernel launched overlapped after this one"),
        ("text", "    __syncthreads();\n#pragma unroll 1\n    for (I it = first;", f"    __syncthreads();\n    {P('post_staged', 'threadIdx.x == 0')}\n#pragma unroll 1\n    for (I it = first;"),
        ("text", "  if (items <= 0x7fffffff) walk(0u); else walk((int64_t)0);\n}\n\n}  // namespace mhc",
         f"  if (items <= 0x7fffffff) walk(0u); else walk((int64_t)0);\n  {P('post_end', '(threadIdx.x & 31) == 0')}\n}}\n\n}}  // namespace mhc"),
    ])
    block0 = "threadIdx.x == 0 && blockIdx.x == 0 && blockIdx.y == 0"
    cu = os.path.join(dst, variant, f"{variant}.cu")
    patch_file(cu, [
        ("re", r"(\n\s*)mhc::wait_prior_grids\(\);(\s*)mhc::allow_dependent_grids\(\);",
         lambda m: f"{m.group(1)}{P('coef_before_wait', 'threadIdx.x == 0')}{m.group(1)}mhc::wait_prior_grids();{m.group(1)}{P('coef_waited', 'threadIdx.x == 0')}"
                   f"{m.group(1)}if ({block0}) mhc::probe_clock({CLOCK_SLOTS[0]});{m.group(2)}mhc::allow_dependent_grids();"),
        ("re", r"(\n\s*)(constraint_res_lanes\(L_res, H_res, r\);|constraint_res\(L_res, H_res\);)", around_res_constraint),
        ("re", r"(mhc::sum_split_partials<K>\(proj_part[^;]*;.*?__syncthreads\(\);)", lambda m: m.group(1) + "\n  " + P("coef_reduced", "threadIdx.x == 0")),
        ("re", r"(\n\s*)(mhc::named_arrive\(1, COEF_MIX_EARLY\);)", lambda m: f"{m.group(1)}{P('coef_pre_map_done', 'tt == 0')}{m.group(1)}{m.group(2)}"),
        ("re", r"(\n\s*)(mhc::named_sync\(2, 96\);\n\s*\} else \{)", lambda m: f"{m.group(1)}{P('coef_res_map_done', 'tt == 0')}{m.group(1)}{m.group(2)}"),
        ("re", r"((?:if \(mix_early\) )?mix\.finish\(x, u, s_pre\);)",
         lambda m: m.group(1) + "\n  " + P("coef_end", "tt == 0") + f"\n  if ({block0}) mhc::probe_clock({CLOCK_SLOTS[1]});"),
    ])
    with open(cu, "a") as f:
        f.write(PROBE_HOST)
    print(f"instrumented {variant} into {dst}")


if __name__ == "__main__":
    main()
