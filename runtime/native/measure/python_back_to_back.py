"""Device time per call of the compiled forward (pre then post) issued from Python
without host gaps, for comparison with `mhc bench`'s back-to-back timing: the same
libraries (scripts/gpu/generated), shapes, bf16 residual and input-set rotation as
scripts/gpu/bench_forward.py, measured two ways:
  back_to_back_ms  one pair of CUDA events around ITERS calls issued back to back,
                   divided by ITERS (what `mhc bench` reports as forwardBackToBack);
  graph_ms         the same calls captured once in a CUDA graph and replayed, divided
                   by the calls (no host work at all between kernels).
Per-call events (bench_forward.py's ours_ms) also hold the host's time to issue each
call, which for Python's ctypes calls is tens of microseconds: at decode sizes that,
not the kernels, is what they measure.

Usage (repo root, GPU machine): python3 runtime/native/measure/python_back_to_back.py OUT.json
"""
import json
import math
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "gpu"))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
ITERS = 30
SHAPES = [(8192, 7168, 4), (8192, 4096, 4), (16, 4096, 4), (8192, 4096, 8), (8192, 4096, 16)]
L2_BYTES = 50 * 2**20


def main():
    rows = []
    for T, C, n in SHAPES:
        lib = G.Library(f"mhc_n{n}")
        v = next(v for v in G.variants() if v["symbol"] == f"mhc_n{n}")
        K = v["k"]
        set_bytes = 2 * T * n * C * 2 + n * C * K * 4 + 2 * T * C * 2
        nsets = max(1, min(64, math.ceil(2 * L2_BYTES / set_bytes)))
        gen = torch.Generator(device=DEV).manual_seed(7)
        ws_bytes = lib.workspace_size(T, C)
        ws = torch.empty(max(ws_bytes, 16), dtype=torch.uint8, device=DEV)
        sets = []
        for _ in range(nsets):
            x = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16()
            params = {p: torch.randn(*[G._dim(d, {"C": C, "T": T}) for d in spec["shape"]], generator=gen, device=DEV) / math.sqrt(n * C)
                      for p, spec in ((s["name"], s) for s in lib.manifest["parameters"])}
            params["alpha"] = torch.full((3,), 0.5, device=DEV)
            for slot in ("pre", "post", "res"):
                params[f"bias_{slot}"] = torch.tensor(v["initialBias"][slot], dtype=torch.float32, device=DEV)
            bufs = {"h_pre": torch.empty(T, n, device=DEV), "h_post": torch.empty(T, n, device=DEV), "h_res": torch.empty(T, n, n, device=DEV),
                    "u": torch.empty(T, C, device=DEV, dtype=torch.bfloat16), "y": torch.empty(T, n, C, device=DEV, dtype=torch.bfloat16)}
            sets.append((x, params, bufs))

        def forward(s):
            x, p, b = s
            assert lib.pre(x, p, b["h_pre"], b["h_post"], b["h_res"], b["u"], ws, ws_bytes) == 0
            assert lib.post(x, b["u"], b["h_post"], b["h_res"], b["y"]) == 0

        for i in range(5):
            forward(sets[i % nsets])
        torch.cuda.synchronize()
        b2b = []
        for _ in range(3):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            for i in range(ITERS):
                forward(sets[i % nsets])
            e.record()
            e.synchronize()
            b2b.append(s.elapsed_time(e) / ITERS)
        # The same calls captured in one CUDA graph, replayed: median device time per call (scripts/gpu/mhc_gpu.py).
        graph_ms = G.graph_timed(forward, sets, reps=max(ITERS, nsets), replays=5)
        row = {"T": T, "C": C, "n": n, "input_sets": nsets, "back_to_back_ms": statistics.median(b2b), "graph_ms": graph_ms}
        rows.append(row)
        print(json.dumps(row), flush=True)
        del sets
        torch.cuda.empty_cache()
    with open(sys.argv[1], "w") as fh:
        json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "iters": ITERS, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
