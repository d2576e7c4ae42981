"""The generated PyTorch binding inside torch.compile: the small GPT of examples/torch/gpt.py with mHC
connections (mhc_n4), compiled with torch.compile (default mode) and run for a few training steps,
against the same model in eager mode from the same initial weights: the losses must agree (the
compiled F may round differently: bound 2e-2 relative on the loss, 5e-2 on the gradients' norms)
and the run must not raise. Also compiled inference under torch.no_grad() against eager, and
torch._dynamo.explain's count of graphs and graph breaks with their reasons (the binding's
ctypes calls cannot be traced; each connection call is meant to be one clean break).
Prints PASS/FAIL lines; exit 1 on any failure. MHC_GPU_GEN=DIR takes another generated tree.

Usage: python3 scripts/gpu/test_compile.py
"""
import copy
import os
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

    print(f"{'PASS' if report.failures == 0 else 'FAIL'} test_compile: {report.failures} failure(s)", flush=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
