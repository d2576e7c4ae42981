"""Hyper-Connections on the CUDA target: the prelude's `hc` (norm rms_stream, projection
per_stream: phi [C, k/n] shared by the streams, the prenorm GEMM over T*n rows of C) against
`hc_flat` (examples/torch/connections.mhc: the same maps on mHC's flattened norm and projection,
phi [n*C, k]), n = 4, bf16 residual, through the generated PyTorch bindings. Per shape:
  forward   pre + post (F = identity: f = u), no autograd;
  step      forward, then backward of y with a given dy (gradients of x and every parameter).
CUDA events around each call, warm-up, median of ITERS calls, input sets rotated (x alone is
far larger than L2); per-kernel device microseconds of one step from torch.profiler.
Both variants move the same bytes of x; the per-stream GEMM has K = (n + n + n*n)/n = 6
columns over 4x the rows (flat: 24 columns), and its phi is n times smaller.
Writes $OUT/bench_hc.json (or --json NAME) with the device, the date and every number.

Usage: python3 scripts/gpu/bench_hc.py [--iters N] [--json NAME]   (needs hc_n4 and hc_flat_n4 built)
"""
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
ITERS = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 20
JSON_NAME = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else "bench_hc.json"
VARIANTS = ["hc_flat_n4", "hc_n4"]
SHAPES = [(8192, 4096), (8192, 7168), (16, 4096)]
SETS = 3
KERNELS = ["small_prenorm_kernel", "prenorm_mma_kernel", "prenorm_kernel", "coefficients_backward_kernel", "coefficients_kernel", "post_backward_reduce", "post_backward_kernel", "post_kernel",
           "premix_backward_kernel", "prenorm_backward_mma_kernel", "prenorm_backward_kernel", "dphi_reduce_kernel", "stats_kernel", "parameter_gradients_kernel"]


def timed(fn, sets):
    return round(statistics.median(G.event_times(fn, sets, ITERS)), 4)


def bench(symbol, T, C):
    gen = torch.Generator(device=DEV).manual_seed(7)
    m = G.load_binding(symbol)[1](C, device=DEV)
    n = m.n
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("phi_"):
                p.copy_(torch.randn(p.shape, generator=gen, device=DEV) / math.sqrt(p.shape[0]))
    xs = [torch.randn(T, n, C, generator=gen, device=DEV).to(torch.bfloat16).requires_grad_() for _ in range(SETS)]
    dy = torch.randn(T, n, C, generator=gen, device=DEV).to(torch.bfloat16)

    def forward(x):
        with torch.no_grad():
            m.forward(x, lambda t: t)

    def step(x):
        x.grad = None
        for p in m.parameters():
            p.grad = None
        m.forward(x, lambda t: t).backward(dy)

    row = {"variant": symbol, "T": T, "C": C, "n": n, "forward_ms": timed(forward, xs), "step_ms": timed(step, xs)}
    row["step_kernels_us"] = G.kernel_breakdown(step, xs, KERNELS)
    del xs, dy, m
    torch.cuda.empty_cache()
    return row


def main():
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}; torch {torch.__version__}", flush=True)
    rows = []
    for T, C in SHAPES:
        for symbol in VARIANTS:
            r = bench(symbol, T, C)
            rows.append(r)
            print(f"{symbol:11s} T={T} C={C}: forward {r['forward_ms']:.4f} ms, forward + backward {r['step_ms']:.4f} ms; step kernels (us) {json.dumps(r['step_kernels_us'])}", flush=True)
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    result = {"device": props.name, "date": datetime.date.today().isoformat(), "torch": torch.__version__, "iters": ITERS, "dtype": "bf16", "rows": rows}
    with open(os.path.join(out_dir, JSON_NAME), "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
