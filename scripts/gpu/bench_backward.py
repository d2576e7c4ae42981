"""Forward + backward timings of the generated kernels (through the generated PyTorch
binding's autograd) against a copy-bandwidth floor, eager PyTorch and torch.compile of
the same maths: prelude `mhc`, bf16 residual, fp32 coefficients, F = identity (f = u),
loss gradient dy given. One timed step = pre, post, then backward of y with dy: the
gradients of x and of every parameter. CUDA events, warm-up, median of ITERS steps,
input sets rotated (x alone is far larger than L2 at these shapes); also back to back (steps
queued without host synchronisation) and in a CUDA graph (4 whole steps, autograd's backward
included, captured once and replayed: no launch gaps).

Byte model (bf16, e = 2 bytes, per token in units of C*e), phi ignored (< 0.1%):
  forward  3n + 2: x read twice (prenorm GEMM + pre-mix, then post), f read, u and y written
                   (bench_forward.py's floor_2pass);
  backward 5n + 4: two passes over x and dy, since the coefficients' backward needs
                   per-token sums over all channels (dH = <dy, x>, <du, x>) before dx:
                   pass 1 reads x, dy, f, du and writes df (2n + 3), pass 2 reads x, dy,
                   du and writes dx (3n + 1).
  floor = T*C*e*(8n + 6) / copy bandwidth (a device-to-device copy, bytes read + written).
Recompute: a block of 16 sublayers (T = 8192, C = 4096, n = 4, F = identity) chained with
module.forward versus recompute_block (the default: ceil(sqrt(16)) = 4 segments of 5, 5, 5 and 1 sublayers;
equal segments of 4, 16 = the whole block rebuilt at once, 8, 2): activation bytes held between forward and backward and the
peak over forward + backward, the forward + backward step time; the gradients must be bit-identical.
--recompute-only runs just this.
Writes $OUT/bench_backward.json (or --json NAME) with the device, the date and every number.

Usage: python3 scripts/gpu/bench_backward.py [--no-compile] [--no-recompute] [--iters N] [--json NAME] [--recompute-only]
"""
import datetime
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
ITERS = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 20
COMPILE = "--no-compile" not in sys.argv
JSON_NAME = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else "bench_backward.json"
SHAPES = [
    {"name": "prefill T=8192 C=7168 n=4", "T": 8192, "C": 7168, "n": 4},
    {"name": "T=8192 C=4096 n=4", "T": 8192, "C": 4096, "n": 4},
]
KERNELS = ("small_prenorm_kernel", "prenorm_mma_kernel", "prenorm_kernel", "coefficients_kernel", "post_kernel", "stats_kernel", "post_backward_kernel", "post_backward_reduce_kernel",
           "premix_backward_kernel", "coefficients_backward_kernel", "parameter_gradients_kernel", "split_g_kernel", "prenorm_backward_mma_kernel", "elementwise_dx_kernel",
           "prenorm_backward_kernel", "dphi_reduce_kernel")


def timed(step, sets, iters=ITERS, warmup=3):
    times = G.event_times(step, sets, iters, warmup)
    return statistics.median(times), min(times), max(times)


def back_to_back(step, sets, iters=ITERS, warmup=3):
    """Milliseconds per step with `iters` steps queued back to back between two events (no host
    synchronisation inside, as in a training loop where the host runs ahead of the GPU)."""
    for i in range(warmup):
        step(sets[i % len(sets)])
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for i in range(iters):
        step(sets[i % len(sets)])
    e.record()
    e.synchronize()
    return s.elapsed_time(e) / iters


def copy_bandwidth(nbytes):
    src = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=DEV).normal_()
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    times = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        dst.copy_(src)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    ms = statistics.median(times)
    return 2 * src.numel() * 2 / (ms * 1e-3)


def torch_forward(x, phi_pre, phi_post, phi_res, alpha, bias_pre, bias_post, bias_res):
    """mhc with F = identity, fp32 coefficient maths on the bf16 residual (design 1), differentiable."""
    T, n, C = x.shape
    xf = x.reshape(T, n * C).float()
    rinv = torch.rsqrt(xf.square().mean(-1, keepdim=True) + 1e-6)
    pre = torch.sigmoid((xf @ phi_pre) * rinv * alpha[0] + bias_pre) + 1e-6
    post = 2.0 * torch.sigmoid((xf @ phi_post) * rinv * alpha[1] + bias_post)
    L = ((xf @ phi_res) * rinv * alpha[2] + bias_res).reshape(T, n, n)
    M = torch.softmax(L, dim=-2) + 1e-6
    M = M / (M.sum(-1, keepdim=True) + 1e-6)
    for _ in range(19):
        M = M / (M.sum(-2, keepdim=True) + 1e-6)
        M = M / (M.sum(-1, keepdim=True) + 1e-6)
    u = torch.einsum("ti,tic->tc", pre, x.float()).to(x.dtype)
    y = torch.einsum("tji,tic->tjc", M, x.float()) + post[:, :, None] * u.float()[:, None, :]
    return y.to(x.dtype)


def recompute_memory(layers=16, T=8192, C=4096, n=4, segments=(None, 4, 16, 8, 2), time_iters=5):
    """Activation memory of a block of `layers` mHC sublayers (F = identity, bf16) with and without
    recompute_block: bytes held between forward and backward (the output excluded), and the peak
    over forward + backward, both above what existed before the forward. One recompute run per
    segment length (None: the binding's default, _segment_starts; `layers`: the whole block rebuilt at
    once). Both paths keep the L sublayer outputs f (F's activations, L*T*C elements) and the block
    output y; `peak_less_f_and_y_MiB` is the peak without those two shared terms. `step_fwd_bwd_ms_median`
    is the median forward + backward time over `time_iters` steps (CUDA events, F = identity, so the
    time is the mhc kernels' and the rebuild's alone)."""
    mod, cls = G.load_binding(f"mhc_n{n}")
    gen = torch.Generator(device=DEV).manual_seed(5)
    mods = [cls(C, device=DEV) for _ in range(layers)]
    fns = [lambda u: u] * layers
    x = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16().requires_grad_(True)
    dy = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16()
    shared = (layers * T * C + T * n * C) * 2
    runs = [("stored", None)] + [(f"recompute_segment_{s if s is not None else 'default'}", s) for s in segments]
    out = {}
    grads = {}

    def forward(name, segment):
        if name == "stored":
            y = x
            for m, fn in zip(mods, fns):
                y = m.forward(y, fn)
            return y
        if segment is None:
            return mod.recompute_block(mods, fns, x)
        return mod.recompute_block(mods, fns, x, segment=segment)

    for name, segment in runs:
        for m in mods:
            m.zero_grad(set_to_none=True)
        x.grad = None
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        y = forward(name, segment)
        torch.cuda.synchronize()
        held = torch.cuda.memory_allocated() - base - y.numel() * y.element_size()
        fwd_peak = torch.cuda.max_memory_allocated() - base
        y.backward(dy)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        grads[name] = [x.grad.clone()] + [p.grad.clone() for m in mods for p in m.parameters()]
        del y
        # Step time: forward + backward, after the run above warmed it up.
        ms = []
        for _ in range(time_iters):
            for m in mods:
                m.zero_grad(set_to_none=True)
            x.grad = None
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            forward(name, segment).backward(dy)
            stop.record()
            torch.cuda.synchronize()
            ms.append(start.elapsed_time(stop))
        out[name] = {"segment": segment, "held_between_fwd_bwd_MiB": round(held / 2**20, 1), "peak_forward_MiB": round(fwd_peak / 2**20, 1),
                     "peak_fwd_bwd_MiB": round(peak / 2**20, 1), "peak_less_f_and_y_MiB": round((peak - shared) / 2**20, 1),
                     "step_fwd_bwd_ms_median": round(statistics.median(ms), 3)}
    st = out["stored"]
    for name, _ in runs[1:]:
        r = out[name]
        r["gradients_bit_identical"] = all(torch.equal(a, b) for a, b in zip(grads["stored"], grads[name]))
        r["held_ratio"] = round(st["held_between_fwd_bwd_MiB"] / r["held_between_fwd_bwd_MiB"], 2)
        r["peak_ratio"] = round(st["peak_fwd_bwd_MiB"] / r["peak_fwd_bwd_MiB"], 2)
        r["peak_less_f_and_y_ratio"] = round(st["peak_less_f_and_y_MiB"] / r["peak_less_f_and_y_MiB"], 2)
        r["step_time_ratio"] = round(r["step_fwd_bwd_ms_median"] / st["step_fwd_bwd_ms_median"], 2)
        print(f"recompute (segment {r['segment'] or 'default'}), {layers}-sublayer block T={T} C={C} n={n}: held {st['held_between_fwd_bwd_MiB']} -> {r['held_between_fwd_bwd_MiB']} MiB "
              f"({r['held_ratio']}x), peak {st['peak_fwd_bwd_MiB']} -> {r['peak_fwd_bwd_MiB']} MiB ({r['peak_ratio']}x), peak less f and y "
              f"{st['peak_less_f_and_y_MiB']} -> {r['peak_less_f_and_y_MiB']} MiB ({r['peak_less_f_and_y_ratio']}x); step "
              f"{st['step_fwd_bwd_ms_median']} -> {r['step_fwd_bwd_ms_median']} ms ({r['step_time_ratio']}x); gradients bit-identical: {r['gradients_bit_identical']}", flush=True)
    return {"layers": layers, "T": T, "C": C, "n": n, "default_segment_starts": mod._segment_starts(layers), **out,
            "residual_MiB": round(T * n * C * 2 / 2**20, 1), "f_and_y_MiB": round(shared / 2**20, 1)}


def recompute_only(out_dir, props):
    result = {"what": "activation memory of a 16-sublayer mhc block (F = identity, bf16) with and without recompute_block, through the generated PyTorch binding",
              "device": props.name, "date": datetime.date.today().isoformat(), "torch": torch.__version__, "recompute": recompute_memory()}
    with open(os.path.join(out_dir, JSON_NAME), "w") as fh:
        json.dump(result, fh, indent=1)


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}, {props.multi_processor_count} SMs; torch {torch.__version__}", flush=True)
    if "--recompute-only" in sys.argv:
        return recompute_only(out_dir, props)
    rows = []
    for sh in SHAPES:
        T, C, n = sh["T"], sh["C"], sh["n"]
        mod, cls = G.load_binding(f"mhc_n{n}")
        e = 2
        bw = copy_bandwidth(T * n * C * e)
        floor_bytes = T * C * e * (8 * n + 6)
        floor_ms = floor_bytes / bw * 1e3
        gen = torch.Generator(device=DEV).manual_seed(11)
        m = G.bench_module(mod, cls, C, gen, DEV)
        params = [getattr(m, k) for k in mod.PARAMETERS]
        sets = []
        for _ in range(2):
            x = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16().requires_grad_(True)
            dy = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16()
            sets.append((x, dy))

        def ours(s):
            x, dy = s
            for p in params:
                p.grad = None
            x.grad = None
            y = m.forward(x, lambda u: u)
            y.backward(dy)

        def ours_forward(s):
            with torch.no_grad():
                m.forward(s[0], lambda u: u)

        def eager(s, fn=torch_forward):
            x, dy = s
            for p in params:
                p.grad = None
            x.grad = None
            fn(x, *params).backward(dy)

        row = {"shape": sh["name"], "T": T, "C": C, "n": n, "copy_GBps": round(bw / 1e9, 1), "floor_bytes": floor_bytes, "floor_ms": round(floor_ms, 4)}
        row["ours_ms"], row["ours_min_ms"], _ = [round(v, 4) for v in timed(ours, sets)]
        row["ours_back_to_back_ms"] = round(back_to_back(ours, sets), 4)
        row["ours_forward_ms"] = round(timed(ours_forward, sets)[0], 4)
        try:  # the whole step (forward, autograd's backward) captured in a CUDA graph: no launch gaps
            row["ours_graph_ms"] = round(G.graph_timed(ours, sets, reps=4), 4)
        except Exception as exc:  # noqa: BLE001
            row["ours_graph_error"] = repr(exc)[:300]
            print(f"  CUDA graph capture failed: {exc!r}"[:300], flush=True)
        row["ours_kernels_us"] = G.kernel_breakdown(ours, sets, KERNELS, calls=5, warmup=2)
        print(f"{sh['name']}: ours fwd+bwd {row['ours_ms']:.3f} ms per synchronised step, {row['ours_back_to_back_ms']:.3f} ms back to back, "
              f"{row.get('ours_graph_ms', float('nan')):.3f} ms in a CUDA graph (forward {row['ours_forward_ms']:.3f}), floor {floor_ms:.3f} ms", flush=True)
        print(f"  kernels (us per step): {json.dumps(row['ours_kernels_us'])}", flush=True)
        row["eager_ms"] = round(timed(eager, sets, iters=max(5, ITERS // 2))[0], 4)
        print(f"  eager {row['eager_ms']:.3f} ms", flush=True)
        if COMPILE:
            compiled = torch.compile(torch_forward)
            t0 = time.time()
            try:
                row["compile_ms"] = round(timed(lambda s: eager(s, compiled), sets, iters=max(5, ITERS // 2))[0], 4)
                row["compile_seconds"] = round(time.time() - t0, 1)
                row["compile_back_to_back_ms"] = round(back_to_back(lambda s: eager(s, compiled), sets, iters=max(5, ITERS // 2)), 4)
                print(f"  torch.compile {row['compile_ms']:.3f} ms (compiled in {row['compile_seconds']} s)", flush=True)
            except Exception as exc:  # noqa: BLE001
                row["compile_error"] = repr(exc)[:300]
                print(f"  torch.compile failed: {exc!r}"[:300], flush=True)
        row["ours_over_floor"] = round(row["ours_ms"] / floor_ms, 3)
        row["back_to_back_over_floor"] = round(row["ours_back_to_back_ms"] / floor_ms, 3)
        if "ours_graph_ms" in row:
            row["graph_over_floor"] = round(row["ours_graph_ms"] / floor_ms, 3)
        row["eager_over_ours"] = round(row["eager_ms"] / row["ours_ms"], 3)
        if "compile_ms" in row:
            row["compile_over_ours"] = round(row["compile_ms"] / row["ours_ms"], 3)
        rows.append(row)
        del sets, m
        torch.cuda.empty_cache()
    recompute = recompute_memory() if "--no-recompute" not in sys.argv else None
    result = {"what": "forward + backward of one mhc sublayer (F = identity), bf16 residual, through the generated PyTorch binding",
              "device": props.name, "date": datetime.date.today().isoformat(), "torch": torch.__version__, "rows": rows, "recompute": recompute}
    with open(os.path.join(out_dir, JSON_NAME), "w") as fh:
        json.dump(result, fh, indent=1)
    print("\nshape | ours fwd+bwd ms | floor ms | ours/floor | eager ms | compile ms | compile/ours | back to back: ours ms, /floor, compile ms | graphed: ours ms, /floor")
    for r in rows:
        print(f"{r['shape']} | {r['ours_ms']:.3f} | {r['floor_ms']:.3f} | {r['ours_over_floor']:.2f} | {r['eager_ms']:.3f} | {r.get('compile_ms', float('nan')):.3f} | {r.get('compile_over_ours', float('nan')):.2f}"
              f" | {r['ours_back_to_back_ms']:.3f}, {r['back_to_back_over_floor']:.2f}, {r.get('compile_back_to_back_ms', float('nan')):.3f}"
              f" | {r.get('ours_graph_ms', float('nan')):.3f}, {r.get('graph_over_floor', float('nan')):.2f}")


if __name__ == "__main__":
    main()
