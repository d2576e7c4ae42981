"""Trains the small GPT of gpt.py with the plain residual, Hyper-Connections (the prelude's hc,
n = 4: per-stream norm and projection) and mHC (the prelude's mhc, n = 4) on the bytes of
this repository's text files, writes the loss curves, then times training steps at C = 4096
to report HC's and mHC's step-time overhead over the residual model. Runs on a machine with a CUDA GPU and the generated
bindings built (see README.md).

Outputs under --out (default $OUT or examples/torch/out): losses.json, losses.png (or
losses.svg when matplotlib is missing), overhead.json; a summary on stdout. --profile adds
profile.json: the GPU time of a training step per kernel (torch.profiler) for the residual and
mHC models at the overhead's configuration, and where mHC's extra time goes.

Usage: python3 examples/torch/train_compare.py --gen scripts/gpu/generated [--steps 300]
       [--skip-curves] [--skip-overhead] [--profile] [--variants residual,hc,mhc]
"""
import argparse
import glob
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt import GPT, load_binding  # noqa: E402

DEV = torch.device("cuda")
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
VARIANTS = [("residual", None), ("hc", "hc_n4"), ("mhc", "mhc_n4"), ("mhc_gated", "mhc_n4")]
GATED_HEAD = "gated_head_n4"  # the binding whose pre is `collapse gated` (connections.mhc), for variants named *_gated


def corpus():
    """Bytes of the repository's own text (docs, sources, .mhc files): a real, varied byte stream."""
    files = []
    for pattern in ("**/*.md", "compiler/**/*.ts", "examples/**/*.mhc", "compiler/std/*.mhc"):
        files += glob.glob(os.path.join(ROOT, pattern), recursive=True)
    data = bytearray()
    for f in sorted(set(files)):
        if "node_modules" in f or "/generated/" in f:
            continue
        with open(f, "rb") as fh:
            data += fh.read()
    t = torch.frombuffer(bytes(data), dtype=torch.uint8).to(torch.long)
    split = int(0.95 * t.numel())
    return t[:split].to(DEV), t[split:].to(DEV)


def batch(data, B, T, gen):
    ix = torch.randint(0, data.numel() - T - 1, (B,), generator=gen, device=DEV)
    off = torch.arange(T, device=DEV)
    x = data[ix[:, None] + off]
    y = data[ix[:, None] + off + 1]
    return x, y


def make_model(gen_dir, symbol, dim, heads, layers, context, recompute=False, low_precision_residual=False, gated=False):
    cls, binding, head = None, None, None
    if symbol is not None:
        binding, cls = load_binding(gen_dir, symbol)
    if gated:
        head = load_binding(gen_dir, GATED_HEAD)[1]
    return GPT(256, dim, heads, layers, context, connection=cls, recompute=recompute, binding=binding, low_precision_residual=low_precision_residual,
               collapse=head).to(DEV)


def train_curves(gen_dir, steps, out, names=None):
    train, val = corpus()
    cfg = dict(dim=256, heads=4, layers=4, context=256)
    B = 32
    curves = {}
    for name, symbol in VARIANTS:
        if names is not None and name not in names:
            continue
        torch.manual_seed(0)
        model = make_model(gen_dir, symbol, **cfg, gated=name.endswith("_gated"))
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 30) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
        g = torch.Generator(device=DEV).manual_seed(1)
        gv = torch.Generator(device=DEV).manual_seed(2)
        losses, evals = [], []
        t0 = time.time()
        for step in range(steps):
            x, y = batch(train, B, cfg["context"], g)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model.loss(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            if (step + 1) % 50 == 0 or step == steps - 1:
                with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                    ev = statistics.mean(model.loss(*batch(val, B, cfg["context"], gv)).item() for _ in range(8))
                evals.append((step + 1, ev))
        curves[name] = {"train": losses, "val": evals, "seconds": round(time.time() - t0, 1), "parameters": sum(p.numel() for p in model.parameters())}
        print(f"{name}: final train loss {statistics.mean(losses[-20:]):.4f}, val {evals[-1][1]:.4f} ({curves[name]['seconds']} s)", flush=True)
        del model, opt
    with open(os.path.join(out, "losses.json"), "w") as fh:
        json.dump({"config": {**cfg, "batch": B, "steps": steps, "vocab": 256, "corpus_bytes": train.numel() + val.numel()}, "curves": curves}, fh)
    plot(curves, out)
    return curves


def smooth(v, k=20):
    out, acc = [], 0.0
    for i, x in enumerate(v):
        acc += x
        if i >= k:
            acc -= v[i - k]
        out.append(acc / min(i + 1, k))
    return out


def plot(curves, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, c in curves.items():
            ax.plot(smooth(c["train"]), label=f"{name} (train)")  # mhc_gated: mHC with the gated collapse
            ax.plot([s for s, _ in c["val"]], [v for _, v in c["val"]], "o--", markersize=3, label=f"{name} (val)")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats per byte)")
        ax.set_title("byte-level GPT, dim 256, 4 layers, n = 4 streams")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "losses.png"), dpi=120)
        return
    except ImportError:
        pass
    # No matplotlib: a plain SVG polyline per curve.
    W, H, pad = 700, 420, 40
    all_v = [v for c in curves.values() for v in smooth(c["train"])]
    lo, hi = min(all_v), max(all_v)
    steps = max(len(c["train"]) for c in curves.values())
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">', f'<rect width="{W}" height="{H}" fill="white"/>']
    for (name, c), col in zip(curves.items(), colors):
        pts = " ".join(f"{pad + i * (W - 2 * pad) / max(1, steps - 1):.1f},{H - pad - (v - lo) / (hi - lo + 1e-9) * (H - 2 * pad):.1f}" for i, v in enumerate(smooth(c["train"])))
        lines.append(f'<polyline fill="none" stroke="{col}" stroke-width="1.5" points="{pts}"/>')
        lines.append(f'<text x="{W - 150}" y="{pad + 18 * list(curves).index(name)}" fill="{col}">{name}</text>')
    lines.append(f'<text x="{pad}" y="{H - 10}">steps 0..{steps}, loss {lo:.2f}..{hi:.2f}</text></svg>')
    with open(os.path.join(out, "losses.svg"), "w") as fh:
        fh.write("\n".join(lines))


# The step-time configuration: C = 4096, 8 sequences of 1024 tokens, bf16 autocast.
STEP_CFG = dict(dim=4096, heads=32, layers=2, context=1024)
STEP_BATCH = 8


def training_step(gen_dir, symbol, recompute=False, warmup=3, low_precision_residual=False, gated=False):
    """A warmed-up training step (forward, backward, AdamW) of the model at STEP_CFG, and the model and optimiser it
    holds (the caller drops both, then empties the cache)."""
    torch.manual_seed(0)
    model = make_model(gen_dir, symbol, recompute=recompute, low_precision_residual=low_precision_residual, gated=gated, **STEP_CFG)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    g = torch.Generator(device=DEV).manual_seed(3)
    x = torch.randint(0, 256, (STEP_BATCH, STEP_CFG["context"]), generator=g, device=DEV)
    y = torch.randint(0, 256, (STEP_BATCH, STEP_CFG["context"]), generator=g, device=DEV)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model.loss(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    return step, (model, opt)


def step_time(gen_dir, symbol, recompute=False, iters=10, low_precision_residual=False, gated=False):
    """Median seconds of one training step at STEP_CFG, the peak memory, the configuration."""
    step, held = training_step(gen_dir, symbol, recompute, low_precision_residual=low_precision_residual, gated=gated)
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        step()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) / 1e3)
    peak = torch.cuda.max_memory_allocated()
    del step, held
    torch.cuda.empty_cache()
    return statistics.median(times), peak, {**STEP_CFG, "batch": STEP_BATCH, "tokens_per_step": STEP_BATCH * STEP_CFG["context"]}


def kernel_times(gen_dir, symbol, steps=3):
    """GPU microseconds per training step of every kernel name (torch.profiler, self device time), largest first."""
    step, held = training_step(gen_dir, symbol)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    per = {}
    for evt in prof.key_averages():
        us = evt.self_device_time_total / steps
        if us > 0:
            per[evt.key] = per.get(evt.key, 0.0) + us
    del step, held, prof
    torch.cuda.empty_cache()
    return dict(sorted(per.items(), key=lambda kv: -kv[1]))


def profile(gen_dir, out, top=25):
    """Where mHC's extra step time goes: per kernel, the residual model's and the mHC model's GPU time."""
    res = kernel_times(gen_dir, None)
    mhc = kernel_times(gen_dir, "mhc_n4")
    ours = {k: v for k, v in mhc.items() if "mhc" in k}  # the generated kernels (namespaces mhc_<symbol>, mhc)
    delta = {k: mhc.get(k, 0.0) - res.get(k, 0.0) for k in set(res) | set(mhc)}
    result = {
        "config": {**STEP_CFG, "batch": STEP_BATCH},
        "device": torch.cuda.get_device_properties(0).name,
        "residual_gpu_us_per_step": round(sum(res.values()), 1),
        "mhc_gpu_us_per_step": round(sum(mhc.values()), 1),
        "mhc_generated_kernels_us_per_step": round(sum(ours.values()), 1),
        "generated_kernels": {k: round(v, 1) for k, v in ours.items()},
        "largest_differences_us_per_step": {k: round(v, 1) for k, v in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:top]},
        "residual_top": {k: round(v, 1) for k, v in list(res.items())[:top]},
        "mhc_top": {k: round(v, 1) for k, v in list(mhc.items())[:top]},
    }
    with open(os.path.join(out, "profile.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    extra = result["mhc_gpu_us_per_step"] - result["residual_gpu_us_per_step"]
    print(f"GPU time per step: residual {result['residual_gpu_us_per_step'] / 1e3:.2f} ms, mHC {result['mhc_gpu_us_per_step'] / 1e3:.2f} ms "
          f"(+{extra / 1e3:.2f} ms; the generated kernels {result['mhc_generated_kernels_us_per_step'] / 1e3:.2f} ms)", flush=True)
    for k, v in list(result["largest_differences_us_per_step"].items())[:12]:
        print(f"  {v:+10.1f} us  {k[:110]}")
    return result


def overhead(gen_dir, out):
    rows = {}
    # residual_bf16: the plain residual with its stream in bf16 like the mHC streams (Megatron-LM's default);
    # the overheads are against "residual", whose stream stays fp32.
    for name, symbol, rc, low in [("residual", None, False, False), ("residual_bf16", None, False, True), ("hc", "hc_n4", False, False),
                                  ("mhc", "mhc_n4", False, False), ("mhc_recompute", "mhc_n4", True, False), ("mhc_gated", "mhc_n4", False, False)]:
        t, peak, cfg = step_time(gen_dir, symbol, recompute=rc, low_precision_residual=low, gated=name.endswith("_gated"))
        rows[name] = {"step_ms": round(t * 1e3, 2), "peak_memory_GiB": round(peak / 2**30, 2)}
        print(f"C = 4096 step time, {name}: {t * 1e3:.2f} ms (peak memory {peak / 2**30:.2f} GiB)", flush=True)
    res = rows["residual"]["step_ms"]
    result = {
        "config": cfg,
        "device": torch.cuda.get_device_properties(0).name,
        "steps": rows,
        "hc_overhead": round(rows["hc"]["step_ms"] / res - 1, 4),
        "mhc_overhead": round(rows["mhc"]["step_ms"] / res - 1, 4),
        "mhc_recompute_overhead": round(rows["mhc_recompute"]["step_ms"] / res - 1, 4),
        "mhc_overhead_vs_residual_bf16": round(rows["mhc"]["step_ms"] / rows["residual_bf16"]["step_ms"] - 1, 4),
        "mhc_gated_overhead": round(rows["mhc_gated"]["step_ms"] / res - 1, 4),
    }
    with open(os.path.join(out, "overhead.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    print(f"step-time overhead at C = 4096: HC {100 * result['hc_overhead']:.1f}%, mHC {100 * result['mhc_overhead']:.1f}% (recompute: {100 * result['mhc_recompute_overhead']:.1f}%; "
          f"mHC against a bf16 residual stream: {100 * result['mhc_overhead_vs_residual_bf16']:.1f}%; mHC with the gated collapse: {100 * result['mhc_gated_overhead']:.1f}%)", flush=True)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gen", default=os.environ.get("MHC_GPU_GEN") or os.path.join(ROOT, "scripts", "gpu", "generated"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    ap.add_argument("--skip-curves", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--profile", action="store_true", help="also profile.json: GPU time per kernel, residual against mHC")
    ap.add_argument("--variants", default=None, help="the loss curves of these variants only (comma-separated names of VARIANTS)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    print(f"device: {torch.cuda.get_device_properties(0).name}; torch {torch.__version__}", flush=True)
    if not a.skip_curves:
        train_curves(a.gen, a.steps, a.out, None if a.variants is None else set(a.variants.split(",")))
    if not a.skip_overhead:
        overhead(a.gen, a.out)
    if a.profile:
        profile(a.gen, a.out)


if __name__ == "__main__":
    main()
