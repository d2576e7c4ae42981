"""Where the host's time goes when the GPU waits for it.

1. Host microseconds per call (time.perf_counter around each call, the launch queue never full:
   a synchronisation every 50 calls) at decode size (T = 16, C = 4096, n = 4, bf16) of
   - the C ABI through plain ctypes (mhc_gpu.Library, buffers allocated once): pre, post;
   - the generated PyTorch binding: pre + post under no_grad, forward(x, identity) with gradients
     then backward;
   and CUDA events around one call of pre + post (waited for: the eager decode number).
2. cProfile of the binding's no_grad pre + post: the functions with the most own time.
3. One synchronised forward + backward step at T = 8192, C = 7168 (the prefill shape of
   bench_backward.py) under torch.profiler: the step's span on the GPU, its kernels' busy time,
   and the idle gaps between kernels (where the GPU waited for the host).

MHC_GPU_GEN=DIR probes another generated tree (its mhc_n4); --decode-only skips 3. Writes
$OUT/probe_host[-NAME].json (`--json NAME`) and prints a summary.
"""
import cProfile
import datetime
import io
import json
import os
import pstats
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
SYMBOL = "mhc_n4"


def host_us(fn, calls=2000, sync_every=50, warmup=50):
    """Median and mean host microseconds of one fn() (perf_counter), synchronising every `sync_every` calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for i in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
        if i % sync_every == sync_every - 1:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return {"median_us": round(statistics.median(times), 2), "mean_us": round(statistics.fmean(times), 2)}


def event_us(fn, iters=200, warmup=20):
    """Median microseconds between CUDA events around one fn(), waited for each time (host cost included)."""
    return round(statistics.median(G.event_times(lambda _: fn(), [None], iters, warmup)) * 1e3, 2)


def profiled(fn, calls, rows, keep):
    """The first `keep` lines of cProfile's table (`rows` functions by own time) over `calls` calls of fn()."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    torch.cuda.synchronize()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(rows)
    return s.getvalue().splitlines()[:keep]


def decode(mod, cls):
    T, C, n = 16, 4096, 4
    gen = torch.Generator(device=DEV).manual_seed(5)
    out = {"T": T, "C": C, "n": n}

    lib = G.Library(SYMBOL)
    v = next(v for v in G.variants() if v["symbol"] == SYMBOL)
    x, params, bufs = G.forward_set(v, T, C, gen, DEV)
    ws_bytes = lib.workspace_size(T, C)
    ws = torch.empty(ws_bytes, dtype=torch.uint8, device=DEV)

    def raw_pre():
        lib.pre(x, params, bufs["h_pre"], bufs["h_post"], bufs["h_res"], bufs["u"], ws, ws_bytes)

    def raw_post():
        lib.post(x, bufs["u"], bufs["h_post"], bufs["h_res"], bufs["y"])

    out["abi_pre_host"] = host_us(raw_pre)
    out["abi_post_host"] = host_us(raw_post)

    m = G.bench_module(mod, cls, C, gen, DEV)
    xb = x.clone()

    def binding_pre_post():
        u, st = m.pre(xb)
        m.post(xb, u, st)

    def binding_fwd_bwd():
        xg = xb.detach().requires_grad_(True)
        y = m.forward(xg, lambda u: u)
        y.backward(dy)

    dy = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16()
    with torch.no_grad():
        out["binding_pre_post_host"] = host_us(binding_pre_post)
        out["binding_pre_post_event_us"] = event_us(binding_pre_post)
        out["abi_pre_post_event_us"] = event_us(lambda: (raw_pre(), raw_post()))
        out["cprofile_pre_post_500_calls"] = profiled(binding_pre_post, 500, 22, 60)
    out["binding_fwd_bwd_host"] = host_us(binding_fwd_bwd, calls=600)
    out["binding_fwd_bwd_event_us"] = event_us(binding_fwd_bwd)

    # The backward's two kernel calls on their own (autograd's engine runs them on its own thread, out of
    # cProfile's sight): the binding's host cost apart from the engine's.
    lib_b = m.lib
    ps = [getattr(m, k) for k in mod.PARAMETERS]
    with torch.no_grad():
        u, h_pre, h_post, h_res, stats = mod._run_pre(lib_b, xb, ps)
        du = torch.randn(T, C, generator=gen, device=DEV).bfloat16()
        post_bwd = lambda: mod._run_post_backward(lib_b, xb, u, h_post, h_res, dy)  # noqa: E731
        pre_bwd = lambda: mod._run_pre_backward(lib_b, xb, ps, stats, h_pre, du, None, None, None)  # noqa: E731
        out["binding_post_backward_host"] = host_us(post_bwd, calls=600)
        out["binding_pre_backward_host"] = host_us(pre_bwd, calls=600)
        out["cprofile_backward_calls_200"] = profiled(lambda: (post_bwd(), pre_bwd()), 200, 16, 45)

    # The whole step with autograd's backward on this thread (where cProfile sees it).
    torch.autograd.set_multithreading_enabled(False)
    try:
        out["binding_fwd_bwd_one_thread_host"] = host_us(binding_fwd_bwd, calls=300)
        out["cprofile_fwd_bwd_one_thread_200"] = profiled(binding_fwd_bwd, 200, 24, 55)
    finally:
        torch.autograd.set_multithreading_enabled(True)
    return out


def prefill_gaps(mod, cls):
    """One synchronised step at T = 8192, C = 7168 under torch.profiler: span, kernel busy time, idle gaps."""
    from torch.profiler import ProfilerActivity, profile
    T, C, n = 8192, 7168, 4
    gen = torch.Generator(device=DEV).manual_seed(11)
    m = G.bench_module(mod, cls, C, gen, DEV)
    params = [getattr(m, k) for k in mod.PARAMETERS]
    x = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16().requires_grad_(True)
    dy = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16()

    def step():
        for p in params:
            p.grad = None
        x.grad = None
        m.forward(x, lambda u: u).backward(dy)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    synced = [event_us(step, iters=20, warmup=2)]
    with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
            torch.cuda.synchronize()
    kernels = sorted((e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA and e.device_time > 0),
                     key=lambda e: e.time_range.start)
    # Three steps, each ends in a synchronisation: split where the gap exceeds 1 ms (between steps).
    steps, cur = [], []
    for e in kernels:
        if cur and e.time_range.start - cur[-1].time_range.end > 1000:
            steps.append(cur)
            cur = []
        cur.append(e)
    steps.append(cur)
    rows = []
    for ks in steps:
        span = ks[-1].time_range.end - ks[0].time_range.start
        busy = sum(e.time_range.end - e.time_range.start for e in ks)
        gaps = []
        for a, b in zip(ks, ks[1:]):
            g = b.time_range.start - a.time_range.end
            if g > 5:
                gaps.append({"after": a.name[:60], "before": b.name[:60], "gap_us": round(g, 1)})
        rows.append({"kernels": len(ks), "span_us": round(span, 1), "busy_us": round(busy, 1), "idle_us": round(span - busy, 1), "gaps_over_5us": gaps})
    return {"T": T, "C": C, "n": n, "synced_step_event_us": synced[0], "profiled_steps": rows}


def main():
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    name = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else ""
    mod, cls = G.load_binding(SYMBOL)
    props = torch.cuda.get_device_properties(0)
    result = {"what": "host time per call of the C ABI and the PyTorch binding at decode size, and the GPU's idle gaps in a synchronised prefill forward + backward",
              "device": props.name, "date": datetime.date.today().isoformat(), "torch": torch.__version__, "tree": G.GEN,
              "decode": decode(mod, cls), "prefill": None if "--decode-only" in sys.argv else prefill_gaps(mod, cls)}
    d = result["decode"]
    print(f"[{name or 'probe'}] decode host us (median): ABI pre {d['abi_pre_host']['median_us']}, ABI post {d['abi_post_host']['median_us']}, "
          f"binding pre+post {d['binding_pre_post_host']['median_us']}, binding fwd+bwd {d['binding_fwd_bwd_host']['median_us']}; "
          f"events per call: ABI pre+post {d['abi_pre_post_event_us']}, binding pre+post {d['binding_pre_post_event_us']}, binding fwd+bwd {d['binding_fwd_bwd_event_us']}; "
          f"host us of the backward's calls alone: post_backward {d['binding_post_backward_host']['median_us']}, pre_backward {d['binding_pre_backward_host']['median_us']}", flush=True)
    print("\n".join(d["cprofile_pre_post_500_calls"]), flush=True)
    print("\n".join(d["cprofile_backward_calls_200"]), flush=True)
    print(f"fwd+bwd with the backward on the calling thread: {d['binding_fwd_bwd_one_thread_host']['median_us']} us host", flush=True)
    print("\n".join(d["cprofile_fwd_bwd_one_thread_200"]), flush=True)
    p = result["prefill"]
    if p is None:
        return write(out_dir, name, result)
    print(f"[{name or 'probe'}] prefill synced step {p['synced_step_event_us']} us; profiled: " +
          "; ".join(f"span {r['span_us']} busy {r['busy_us']} idle {r['idle_us']} ({len(r['gaps_over_5us'])} gaps > 5 us)" for r in p["profiled_steps"]), flush=True)
    for r in p["profiled_steps"][:1]:
        for g in r["gaps_over_5us"]:
            print(f"   gap {g['gap_us']} us: {g['after']} -> {g['before']}", flush=True)
    write(out_dir, name, result)


def write(out_dir, name, result):
    with open(os.path.join(out_dir, f"probe_host{'-' + name if name else ''}.json"), "w") as fh:
        json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
