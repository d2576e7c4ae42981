"""Forward timings of the generated kernels against a copy-bandwidth floor, eager PyTorch
and torch.compile of the same maths (prelude `mhc`, bf16 residual, fp32 coefficients,
F = identity: f = u). CUDA events around each call, warm-up, median of >= 30 calls;
input sets rotated so that small shapes are not timed out of L2.

Byte model (bf16, e = 2 bytes), per call of pre + post, phi read once (n*C*K*4 bytes):
  floor_3pass = T*C*e*(4n + 2) + phi: x read by the prenorm GEMM, the pre-mix and the
                post (3n), y written (n), u written (1), f read (1): the three-kernel
                structure of design 4.2 and of DeepSeek V4 (peer-bench.md's floor).
  floor_2pass = T*C*e*(3n + 2) + phi: x read twice (a pre kernel that keeps x on chip
                between the GEMM and the pre-mix, then the post): the least any split
                into pre and post can move.
Each floor is bytes / measured copy bandwidth (a device-to-device copy of floor_3pass/2
bytes, counting bytes read plus written). Writes $OUT/bench.json (or --json NAME).

Besides the per-call events (host launch cost included, which dominates tiny shapes) every
row has `ours_graph_ms`: the pre + post calls of all input sets captured in one CUDA graph,
replayed, divided by the calls (device time with launch gaps, no Python), and `kernels_us`:
the device time per call of each kernel, from torch.profiler (CUPTI).

Usage: python3 scripts/gpu/bench_forward.py [--no-compile] [--ours-only] [--iters N] [--only n4,n16] [--shapes TxCxn,..]
       [--json NAME]   (MHC_GPU_GEN=DIR benches another generated tree, e.g. a baseline)
"""
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
ITERS = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 30
OURS_ONLY = "--ours-only" in sys.argv
COMPILE = "--no-compile" not in sys.argv and not OURS_ONLY
ONLY_SHAPES = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
JSON_NAME = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else "bench.json"
SHAPES = [
    {"name": "prefill T=8192 C=7168 n=4", "T": 8192, "C": 7168, "n": 4},
    {"name": "prefill T=8192 C=4096 n=4", "T": 8192, "C": 4096, "n": 4},
    {"name": "decode T=16 C=4096 n=4", "T": 16, "C": 4096, "n": 4},
    {"name": "T=8192 C=4096 n=8", "T": 8192, "C": 4096, "n": 8},
    {"name": "T=8192 C=4096 n=16", "T": 8192, "C": 4096, "n": 16},
]
if "--shapes" in sys.argv:  # T x C x n, e.g. 1x4096x4,32x4096x4
    SHAPES = [{"name": f"T={t} C={c} n={n}", "T": t, "C": c, "n": n}
              for t, c, n in (tuple(int(d) for d in s.split("x")) for s in sys.argv[sys.argv.index("--shapes") + 1].split(","))]
L2_BYTES = 50 * 2**20


def timed(fn, sets, iters=ITERS, warmup=5):
    times = G.event_times(fn, sets, iters, warmup)
    return statistics.median(times), min(times)


KERNEL_NAMES = ("small_prenorm_kernel", "prenorm_mma_kernel", "prenorm_kernel", "coefficients_kernel", "post_kernel")


def sinkhorn(L, iters=20, eps=1e-6):
    return G.sinkhorn_ref(L, iters, eps)


def torch_forward(x, phi, alpha, bias, n: int):
    """mhc with F = identity, fp32 coefficient maths on the bf16 residual (design 1)."""
    T = x.shape[0]
    xf = x.reshape(T, -1).float()
    rinv = torch.rsqrt(xf.square().mean(-1, keepdim=True) + 1e-6)
    mix = (xf @ phi) * rinv
    pre = torch.sigmoid(mix[:, :n] * alpha[0] + bias[:n]) + 1e-6
    post = 2.0 * torch.sigmoid(mix[:, n:2 * n] * alpha[1] + bias[n:2 * n])
    res = sinkhorn((mix[:, 2 * n:] * alpha[2] + bias[2 * n:]).reshape(T, n, n))
    u = torch.einsum("ti,tic->tc", pre, x.float()).to(x.dtype)
    y = torch.einsum("tji,tic->tjc", res, x.float()) + post[:, :, None] * u.float()[:, None, :]
    return y.to(x.dtype)


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}, {props.multi_processor_count} SMs; torch {torch.__version__}", flush=True)
    rows = []
    for sh in SHAPES:
        T, C, n = sh["T"], sh["C"], sh["n"]
        if ONLY_SHAPES and f"n{n}" not in ONLY_SHAPES and sh["name"] not in ONLY_SHAPES:
            continue
        if not any(v["symbol"] == f"mhc_n{n}" for v in G.variants()):
            continue
        lib = G.Library(f"mhc_n{n}")
        v = next(v for v in G.variants() if v["symbol"] == f"mhc_n{n}")
        K = v["k"]
        e = 2
        x_bytes = T * n * C * e
        phi_bytes = n * C * K * 4
        set_bytes = x_bytes + phi_bytes + 2 * T * C * e + x_bytes
        nsets = max(1, min(64, math.ceil(2 * L2_BYTES / set_bytes)))
        gen = torch.Generator(device=DEV).manual_seed(7)
        sets = []
        ws_bytes = lib.workspace_size(T, C)
        ws = torch.empty(max(ws_bytes, 16), dtype=torch.uint8, device=DEV)
        for _ in range(nsets):
            sets.append(G.forward_set(v, T, C, gen, DEV))

        def ours_pre(s):
            x, p, b = s
            st = lib.pre(x, p, b["h_pre"], b["h_post"], b["h_res"], b["u"], ws, ws_bytes)
            assert st == 0, G.STATUS.get(st, st)

        def ours_post(s):
            x, p, b = s
            st = lib.post(x, b["u"], b["h_post"], b["h_res"], b["y"])
            assert st == 0, G.STATUS.get(st, st)

        def ours(s):
            ours_pre(s)
            ours_post(s)

        row = {"shape": sh["name"], "T": T, "C": C, "n": n, "K": K, "dtype": "bf16", "input_sets": nsets}
        row["ours_pre_ms"], _ = timed(ours_pre, sets)
        row["ours_post_ms"], _ = timed(ours_post, sets)
        row["ours_ms"], row["ours_min_ms"] = timed(ours, sets)
        row["ours_graph_ms"] = G.graph_timed(ours, sets)
        row["ours_pre_graph_ms"] = G.graph_timed(ours_pre, sets)
        try:
            row["kernels_us"] = G.kernel_breakdown(ours, sets, KERNEL_NAMES)
        except Exception as exc:  # profiler unavailable: report, keep going
            row["kernels_us"] = {"error": repr(exc)[:200]}

        # correctness of what was timed, against the eager torch maths
        x, p, b = sets[0]
        ours(sets[0])
        phi = torch.cat([p["phi_pre"], p["phi_post"], p["phi_res"]], dim=1)
        bias = torch.cat([p["bias_pre"], p["bias_post"], p["bias_res"]])
        y_ref = torch_forward(x, phi, p["alpha"], bias, n)
        row["max_rel_vs_torch"] = ((b["y"].float() - y_ref.float()).abs().max() / y_ref.float().abs().max()).item()

        tsets = [(s[0], torch.cat([s[1]["phi_pre"], s[1]["phi_post"], s[1]["phi_res"]], dim=1),
                  s[1]["alpha"], torch.cat([s[1]["bias_pre"], s[1]["bias_post"], s[1]["bias_res"]])) for s in sets]
        if not OURS_ONLY:
            with torch.no_grad():
                row["torch_eager_ms"], _ = timed(lambda s: torch_forward(*s, n), tsets, iters=max(10, ITERS // 2))
                if COMPILE:
                    t0 = time.time()
                    compiled = torch.compile(torch_forward, dynamic=False)
                    try:
                        compiled(*tsets[0], n)
                        torch.cuda.synchronize()
                        row["torch_compile_seconds"] = round(time.time() - t0, 1)
                        row["torch_compile_ms"], _ = timed(lambda s: compiled(*s, n), tsets, iters=max(10, ITERS // 2))
                    except Exception as exc:  # report, keep going
                        row["torch_compile_error"] = repr(exc)[:300]

        # copy bandwidth and floors
        floor3 = T * C * e * (4 * n + 2) + phi_bytes
        floor2 = T * C * e * (3 * n + 2) + phi_bytes
        half = max(floor3 // 2, 1 << 20)
        src = torch.empty(half, dtype=torch.uint8, device=DEV).random_()
        dst = torch.empty_like(src)
        copy_ms, _ = timed(lambda _s: dst.copy_(src), [None], iters=ITERS)
        bw = 2 * half / (copy_ms * 1e-3)
        row.update({
            "copy_bandwidth_TBps": bw / 1e12,
            "bytes_floor_3pass": floor3, "bytes_floor_2pass": floor2,
            "floor_3pass_ms": floor3 / bw * 1e3, "floor_2pass_ms": floor2 / bw * 1e3,
        })
        row["ours_vs_floor_3pass"] = row["ours_ms"] / row["floor_3pass_ms"]
        row["ours_vs_floor_2pass"] = row["ours_ms"] / row["floor_2pass_ms"]
        row["ours_graph_vs_floor_3pass"] = row["ours_graph_ms"] / row["floor_3pass_ms"]
        if "torch_eager_ms" in row:
            row["speedup_vs_eager"] = row["torch_eager_ms"] / row["ours_ms"]
        if "torch_compile_ms" in row:
            row["speedup_vs_compile"] = row["torch_compile_ms"] / row["ours_ms"]
        rows.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
        del sets, tsets, src, dst
        torch.cuda.empty_cache()

    with open(os.path.join(out_dir, JSON_NAME), "w") as fh:
        json.dump({"device": props.name, "torch": torch.__version__, "method": "CUDA events per call, median", "rows": rows}, fh, indent=1)
    print()
    print(f"{'shape':28} {'ours':>8} {'graph':>8} {'pre':>8} {'post':>8} {'floor3':>8} {'floor2':>8} {'eager':>8} {'compile':>8}  ours/floor3  x compile  kernels (us per call)")
    nan = float("nan")
    for r in rows:
        print(f"{r['shape']:28} {r['ours_ms']:8.3f} {r['ours_graph_ms']:8.4f} {r['ours_pre_ms']:8.3f} {r['ours_post_ms']:8.3f} {r['floor_3pass_ms']:8.3f} {r['floor_2pass_ms']:8.3f} "
              f"{r.get('torch_eager_ms', nan):8.3f} {r.get('torch_compile_ms', nan):8.3f}  {r['ours_vs_floor_3pass']:10.2f}  {r.get('speedup_vs_compile', nan):8.2f}  {json.dumps(r['kernels_us'])}")

if __name__ == "__main__":
    main()
