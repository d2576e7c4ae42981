"""A stack of L sublayers of one connection (F = identity: f = u), fused against unfused,
through the C ABI of the generated library (design 4.2 item 4). The fused kernel is off by
default (post-prenorm.ts POST_PRENORM_FUSED), so post_pre is post then pre unless the tree was
generated with `generate.ts --fuse-post-prenorm` (point MHC_GPU_GEN at it):

  unfused: L x (mhc_<v>_pre(x_l), mhc_<v>_post(x_l, u_l) -> x_{l+1})
  fused:   mhc_<v>_pre(x_0); (L - 1) x mhc_<v>_post_pre(x_l, u_l -> x_{l+1}, u_{l+1}, coefficients);
           mhc_<v>_post(x_{L-1}, u_{L-1}) -> x_L

Byte floors (e = residual bytes, phi = the prenorm weights, read once per sublayer):
  per sublayer, unfused: T C e (4n + 2) + phi   (x read by the prenorm GEMM, the pre-mix and the
                                                 post; u written, f read; y written)
  per sublayer, fused:   T C e (3n + 2) + phi   (the fused pass reads x and f and writes y; the
                                                 coefficient kernel reads y for the pre-mix, writes u)
  stack: unfused L (4n + 2); fused 2 (2n + 1) + (L - 1)(3n + 2) (the first pre and the last post alone)
Floors are bytes / the copy bandwidth measured in the same run. CUDA events, median over
iterations after warm-up; every residual of the stack has its own buffer (no L2 reuse at these sizes).
Also the single calls at the same shape: pre, post, post_pre. Checks that both stacks give the
same last residual within bf16 rounding. Writes $OUT/bench_post_pre.json.

Stacks are also timed captured in a CUDA graph (`*_graph_ms`: device time with the launch gaps between
kernels but no host launch cost, the measure for small T such as decode).

Usage: python3 scripts/gpu/bench_post_pre.py [--layers 8] [--iters 20] [--variant mhc_n4] [--shapes 8192x7168,16x4096] [--json NAME]
(MHC_GPU_GEN: another generated tree, e.g. one with another tiling of the fused kernel)
"""
import ctypes
import datetime
import json
import math
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
LAYERS = int(sys.argv[sys.argv.index("--layers") + 1]) if "--layers" in sys.argv else 8
ITERS = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 20
VARIANT = sys.argv[sys.argv.index("--variant") + 1] if "--variant" in sys.argv else "mhc_n4"
JSON_NAME = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else "bench_post_pre.json"
SHAPES = ([tuple(int(d) for d in s.split("x")) for s in sys.argv[sys.argv.index("--shapes") + 1].split(",")]
          if "--shapes" in sys.argv else [(8192, 7168), (8192, 4096)])


def timed(fn, iters=ITERS, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def size(lib, name, T, C):
    out = ctypes.c_size_t(0)
    st = lib.call(name, T=T, C=C, bytes=ctypes.byref(out))
    assert st == 0, st
    return out.value


def check(st, what):
    if st != 0:
        raise RuntimeError(f"{what} returned {G.STATUS.get(st, st)}")


def bench_shape(lib, v, T, C, L):
    n, K = v["n"], v["k"]
    dtype = torch.bfloat16
    gen = torch.Generator(device=DEV).manual_seed(9)
    params = []
    for _ in range(L):
        p = {}
        for spec in v["parameters"]:
            name = spec["name"]
            if name.startswith("phi_"):
                p[name] = torch.randn(n * C, spec["shape"][1], generator=gen, device=DEV) / math.sqrt(n * C)
            elif name == "alpha":
                p[name] = torch.full((3,), 0.01, device=DEV)
            else:
                p[name] = torch.tensor(v["initialBias"][name[len("bias_"):]], dtype=torch.float32, device=DEV).reshape(spec["shape"])
        params.append(p)
    xs = [torch.randn(T, n, C, generator=gen, device=DEV).to(dtype)] + [torch.empty(T, n, C, device=DEV, dtype=dtype) for _ in range(L)]
    us = [torch.empty(T, C, device=DEV, dtype=dtype) for _ in range(L)]
    hp = [torch.empty(T, n, device=DEV) for _ in range(L)]
    hq = [torch.empty(T, n, device=DEV) for _ in range(L)]
    hr = [torch.empty(T, n, n, device=DEV) for _ in range(L)]
    ws_pre = size(lib, "workspace_size", T, C)
    ws_pp = size(lib, "post_pre_workspace_size", T, C)
    ws = torch.empty(max(ws_pre, ws_pp, 16), dtype=torch.uint8, device=DEV)

    def pre(l):
        check(lib.pre(xs[l], params[l], hp[l], hq[l], hr[l], us[l], ws, ws_pre), "pre")

    def post(l):
        check(lib.post(xs[l], us[l], hq[l], hr[l], xs[l + 1]), "post")

    def post_pre(l):
        kw = {p: G.ptr(params[l + 1][p]) for p in lib.params}
        check(lib.call("post_pre", x=G.ptr(xs[l]), f=G.ptr(us[l]), dtype=1, T=T, C=C, h_post=G.ptr(hq[l]), h_res=G.ptr(hr[l]), y=G.ptr(xs[l + 1]),
                       h_pre_next=G.ptr(hp[l + 1]), h_post_next=G.ptr(hq[l + 1]), h_res_next=G.ptr(hr[l + 1]), u_next=G.ptr(us[l + 1]),
                       stats_next=None, workspace=G.ptr(ws), workspace_bytes=ws_pp, stream=torch.cuda.current_stream().cuda_stream, **kw), "post_pre")

    def unfused():
        for l in range(L):
            pre(l)
            post(l)

    def fused():
        pre(0)
        for l in range(L - 1):
            post_pre(l)
        post(L - 1)

    unfused()
    torch.cuda.synchronize()
    ref_last = xs[L].clone()
    fused()
    torch.cuda.synchronize()
    diff = (xs[L].double() - ref_last.double()).abs()
    agree = float(diff.max().item() / (ref_last.double().abs().max().item() or 1.0))
    row = {"T": T, "C": C, "n": n, "K": K, "layers": L, "dtype": "bf16", "last_residual_max_rel_diff_fused_vs_unfused": agree}
    row["stack_unfused_ms"] = timed(unfused)
    row["stack_fused_ms"] = timed(fused)
    row["stack_unfused_graph_ms"] = G.graph_timed(lambda _: unfused(), [None])
    row["stack_fused_graph_ms"] = G.graph_timed(lambda _: fused(), [None])
    # the single calls (sublayer 0's buffers)
    pre(0)
    row["pre_ms"] = timed(lambda: pre(0))
    row["post_ms"] = timed(lambda: post(0))
    row["post_pre_ms"] = timed(lambda: post_pre(0))
    # floors
    e = 2
    phi = sum(4 * n * C * spec["shape"][1] for spec in v["parameters"] if spec["name"].startswith("phi_"))
    per_unfused = T * C * e * (4 * n + 2) + phi
    per_fused = T * C * e * (3 * n + 2) + phi
    stack_unfused = L * per_unfused
    stack_fused = T * C * e * (2 * (2 * n + 1) + (L - 1) * (3 * n + 2)) + L * phi
    half = max(per_unfused // 2, 1 << 20)
    src = torch.empty(half, dtype=torch.uint8, device=DEV).random_()
    dst = torch.empty_like(src)
    copy_ms = timed(lambda: dst.copy_(src))
    bw = 2 * half / (copy_ms * 1e-3)
    row.update({
        "copy_bandwidth_TBps": bw / 1e12,
        "bytes_per_sublayer_unfused": per_unfused, "bytes_per_sublayer_fused": per_fused,
        "floor_per_sublayer_unfused_ms": per_unfused / bw * 1e3, "floor_per_sublayer_fused_ms": per_fused / bw * 1e3,
        "floor_stack_unfused_ms": stack_unfused / bw * 1e3, "floor_stack_fused_ms": stack_fused / bw * 1e3,
    })
    row["per_sublayer_unfused_ms"] = row["stack_unfused_ms"] / L
    row["per_sublayer_fused_ms"] = row["stack_fused_ms"] / L
    row["per_sublayer_unfused_graph_ms"] = row["stack_unfused_graph_ms"] / L
    row["per_sublayer_fused_graph_ms"] = row["stack_fused_graph_ms"] / L
    row["speedup_fused_vs_unfused"] = row["stack_unfused_ms"] / row["stack_fused_ms"]
    row["stack_unfused_vs_its_floor"] = row["stack_unfused_ms"] / row["floor_stack_unfused_ms"]
    row["stack_fused_vs_its_floor"] = row["stack_fused_ms"] / row["floor_stack_fused_ms"]
    row["post_pre_call_vs_post_plus_pre"] = row["post_pre_ms"] / (row["post_ms"] + row["pre_ms"])
    del xs, us, ws
    torch.cuda.empty_cache()
    return row


def main():
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    v = [v for v in G.variants() if v["symbol"] == VARIANT][0]
    lib = G.Library(VARIANT)
    # post_pre's fused kernels: the small-T one (post + prenorm up to a few tokens) and the tensor-core one (off by default)
    fusedk = [k for k in lib.manifest["kernels"] if k["name"] in ("small_prenorm_kernel", "post_prenorm_mma_kernel")]
    props = torch.cuda.get_device_properties(0)
    rows = []
    for T, C in SHAPES:
        r = bench_shape(lib, v, T, C, LAYERS)
        rows.append(r)
        print(f"{VARIANT} L={LAYERS} T={T} C={C}: stack unfused {r['stack_unfused_ms']:.3f} ms ({r['stack_unfused_vs_its_floor']:.2f}x its floor "
              f"{r['floor_stack_unfused_ms']:.3f}), fused {r['stack_fused_ms']:.3f} ms ({r['stack_fused_vs_its_floor']:.2f}x its floor {r['floor_stack_fused_ms']:.3f}), "
              f"speedup {r['speedup_fused_vs_unfused']:.3f}x; per sublayer {r['per_sublayer_unfused_ms']:.3f} -> {r['per_sublayer_fused_ms']:.3f} ms "
              f"(floors {r['floor_per_sublayer_unfused_ms']:.3f} / {r['floor_per_sublayer_fused_ms']:.3f}); calls: pre {r['pre_ms']:.3f}, post {r['post_ms']:.3f}, "
              f"post_pre {r['post_pre_ms']:.3f} ms; graphed per sublayer {r['per_sublayer_unfused_graph_ms'] * 1e3:.2f} -> {r['per_sublayer_fused_graph_ms'] * 1e3:.2f} us; copy {r['copy_bandwidth_TBps']:.2f} TB/s; last residual rel diff {r['last_residual_max_rel_diff_fused_vs_unfused']:.2e}", flush=True)
    result = {"generated": os.path.basename(os.path.normpath(G.GEN)), "what": f"stack of {LAYERS} sublayers (F = identity) of {VARIANT}, bf16: mhc_<v>_post_pre (post of l fused with the prenorm GEMM of l + 1) vs pre + post",
              "device": props.name, "date": datetime.date.today().isoformat(), "torch": torch.__version__, "fused_kernel": fusedk, "rows": rows}
    with open(os.path.join(out_dir, JSON_NAME), "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
