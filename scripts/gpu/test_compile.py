"""The generated PyTorch binding inside torch.compile: the small GPT of examples/torch/gpt.py with mHC
connections (mhc_n4), compiled with torch.compile (default mode) and run for a few training steps,
against the same model in eager mode from the same initial weights: the losses must agree (the
compiled F may round differently: bound 2e-2 relative on the loss, 5e-2 on the gradients' norms)
and the run must not raise; torch._dynamo.explain's count of graphs and graph breaks with their
reasons (with gradients each connection call is one clean break: the autograd Functions call the
library through ctypes). Then inference under torch.no_grad(): the connections are torch.library
operators there and must trace without a break; mode="reduce-overhead" (one CUDA graph for a
16-token forward) against eager: logits and milliseconds per waited call.
Prints PASS/FAIL lines; exit 1 on any failure. MHC_GPU_GEN=DIR takes another generated tree.

Usage: python3 scripts/gpu/test_compile.py
"""
import copy
import os
import statistics
import sys
import traceback

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "torch"))
import mhc_gpu as G  # noqa: E402
from gpt import GPT, load_binding  # noqa: E402

DEV = torch.device("cuda")


report = G.Checks()


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-12)


def inference_case(model, idx):
    """Without grad mode the connections are torch.library operators that dynamo traces: no graph break, and
    mode="reduce-overhead" captures a whole decode-sized forward (pre, F, post of every sublayer) in a CUDA graph.
    Same logits as eager (bf16 autocast); milliseconds per waited call of both."""
    try:
        torch._dynamo.reset()
        infer = copy.deepcopy(model).eval()
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            ex = torch._dynamo.explain(infer)(idx)
        reasons = sorted({str(b.reason).splitlines()[0][:160] for b in ex.break_reasons})
        report(ex.graph_break_count == 0, "compiled inference: the connections traced as operators", f"graphs={ex.graph_count} breaks={ex.graph_break_count} {reasons}")
        fast = torch.compile(infer, mode="reduce-overhead")
        small = idx[:1, :16]  # one sequence of 16 tokens: the decode-sized step
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            want = infer(small).float()
            for _ in range(3):
                got = fast(small)
            got = got.float()
            err = ((got - want).abs().max() / want.abs().max()).item()
            times = {}
            for name, fn in (("eager", lambda: infer(small)), ("reduce-overhead", lambda: fast(small))):
                times[name] = round(statistics.median(G.event_times(lambda _: fn(), [None], 50, 5)), 4)
        report(err < 2e-2, "reduce-overhead inference (one CUDA graph) against eager", f"max rel err {err:.2e}; ms per waited call {times}")
    except Exception as e:  # noqa: BLE001
        report(False, "compiled inference", f"{type(e).__name__}: {str(e)[:400]}")
        traceback.print_exc()


def main():
    torch.manual_seed(0)
    binding, cls = load_binding(G.GEN, "mhc_n4")
    eager = GPT(256, 256, 4, 2, 64, connection=cls, binding=binding).to(DEV)
    compiled_model = copy.deepcopy(eager)
    compiled = torch.compile(compiled_model)
    gen = torch.Generator(device=DEV).manual_seed(1)
    batches = [(torch.randint(0, 256, (4, 64), generator=gen, device=DEV), torch.randint(0, 256, (4, 64), generator=gen, device=DEV)) for _ in range(4)]

    try:
        explain = torch._dynamo.explain(compiled_model)(batches[0][0])
        reasons = sorted({str(b.reason).splitlines()[0][:160] for b in explain.break_reasons})
        print(f"dynamo: {explain.graph_count} graphs, {explain.graph_break_count} graph breaks; reasons: {reasons}", flush=True)
        report(True, "torch._dynamo.explain", f"graphs={explain.graph_count} breaks={explain.graph_break_count}")
    except Exception as e:  # noqa: BLE001
        report(False, "torch._dynamo.explain", f"{type(e).__name__}: {str(e)[:300]}")
        traceback.print_exc()

    opt_e = torch.optim.AdamW(eager.parameters(), lr=1e-3)
    opt_c = torch.optim.AdamW(compiled_model.parameters(), lr=1e-3)
    for step, (x, y) in enumerate(batches):
        try:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                le = eager.loss(x, y)
            le.backward()
            ge = torch.sqrt(sum((p.grad.float() ** 2).sum() for p in eager.connections.parameters())).item()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = compiled(x)
                lc = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            lc.backward()
            gc = torch.sqrt(sum((p.grad.float() ** 2).sum() for p in compiled_model.connections.parameters())).item()
            ok = rel(lc.item(), le.item()) < 2e-2 and rel(gc, ge) < 5e-2
            report(ok, f"compiled training step {step}", f"loss eager {le.item():.5f} compiled {lc.item():.5f}; |grad of connections| eager {ge:.4e} compiled {gc:.4e}")
            opt_e.step()
            opt_c.step()
            opt_e.zero_grad(set_to_none=True)
            opt_c.zero_grad(set_to_none=True)
        except Exception as e:  # noqa: BLE001
            report(False, f"compiled training step {step}", f"{type(e).__name__}: {str(e)[:400]}")
            traceback.print_exc()
            break

    try:
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            a = eager(batches[0][0]).float()
            b = compiled(batches[0][0]).float()
        err = ((a - b).abs().max() / a.abs().max()).item()
        report(err < 2e-2, "compiled inference (no_grad)", f"max rel err {err:.2e}")
    except Exception as e:  # noqa: BLE001
        report(False, "compiled inference (no_grad)", f"{type(e).__name__}: {str(e)[:400]}")
        traceback.print_exc()

    inference_case(eager, batches[0][0])
    print(f"{'PASS' if report.failures == 0 else 'FAIL'} test_compile: {report.failures} failure(s)", flush=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
