"""Where a small-T forward step spends its time: pre + post of one sublayer (F = identity, f = u, bf16,
prelude `mhc` at n = 4, C = 4096) captured in a one-call CUDA graph, replayed; after each replay the
phase probes of a tree instrumented by probe_patch.py are read. Per probe slot: the earliest and the
latest block, in microseconds after the prenorm GEMM's first block entered; medians over the replays,
with L2 warm and with L2 flushed (a 64 MB write) before each replay. Also the SM clock of the
coefficient kernel's block (0, 0) over its run, from clock64 against %globaltimer.

Usage: MHC_GPU_GEN=INSTRUMENTED_TREE python3 scripts/gpu/probe_decode.py [--T 16,64] [--json NAME]
Writes $OUT/NAME (default probe_decode.json).
"""
import ctypes
import json
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402
from probe_patch import CLOCK_SLOTS, SLOTS  # noqa: E402

DEV = torch.device("cuda")
TS = [int(t) for t in sys.argv[sys.argv.index("--T") + 1].split(",")] if "--T" in sys.argv else [16]
JSON_NAME = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else "probe_decode.json"
C, N, REPLAYS = 4096, 4, 60


def timeline(T):
    lib = G.Library("mhc_n4")
    read = lib.lib.mhc_probe_read
    read.argtypes = [ctypes.c_void_p]
    v = next(v for v in G.variants() if v["symbol"] == "mhc_n4")
    gen = torch.Generator(device=DEV).manual_seed(7)
    ws_bytes = lib.workspace_size(T, C)
    ws = torch.empty(max(ws_bytes, 16), dtype=torch.uint8, device=DEV)
    x, p, b = G.forward_set(v, T, C, gen, DEV)
    flush = torch.empty(64 << 20, dtype=torch.uint8, device=DEV)

    def step():
        assert lib.pre(x, p, b["h_pre"], b["h_post"], b["h_res"], b["u"], ws, ws_bytes) == 0
        assert lib.post(x, b["u"], b["h_post"], b["h_res"], b["y"]) == 0

    g = G.captured(lambda _: step(), [None], 1)
    out = (ctypes.c_ulonglong * 64)()
    result = {}
    for cold in (False, True):
        samples = {k: [] for k in SLOTS}
        clocks = []
        for _ in range(REPLAYS):
            if cold:
                flush.zero_()
            torch.cuda.synchronize()
            assert lib.lib.mhc_probe_reset() == 0
            g.replay()
            torch.cuda.synchronize()
            assert read(ctypes.cast(out, ctypes.c_void_p)) == 0
            t0 = out[0]
            for i, k in enumerate(SLOTS):
                if out[2 * i + 1] != 0:
                    samples[k].append(((out[2 * i] - t0) / 1000.0, (out[2 * i + 1] - t0) / 1000.0))
            a, z = CLOCK_SLOTS
            if out[2 * z + 1] > out[2 * a + 1]:
                clocks.append((out[2 * z] - out[2 * a]) / ((out[2 * z + 1] - out[2 * a + 1]) / 1000.0))
        label = "l2_flushed" if cold else "warm"
        rows = {k: [round(statistics.median(lo for lo, _ in s), 3), round(statistics.median(hi for _, hi in s), 3)] for k, s in samples.items() if s}
        result[label] = {"slots_us_first_last_block": rows, "sm_clock_MHz": round(statistics.median(clocks), 1) if clocks else None}
        print(f"T={T}, {label}: probe slot, first block, last block (us after the GEMM's first block entered), median of {REPLAYS}")
        for k, (lo, hi) in rows.items():
            print(f"  {k:22} {lo:8.3f} {hi:8.3f}")
        print(f"  SM clock (coefficient kernel, block 0): {result[label]['sm_clock_MHz']} MHz", flush=True)
    return result


def main():
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    res = {"device": props.name, "torch": torch.__version__, "C": C, "n": N, "tree": G.GEN, "replays": REPLAYS, "T": {str(T): timeline(T) for T in TS}}
    with open(os.path.join(out_dir, JSON_NAME), "w") as fh:
        json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
