"""Gradients of the generated kernels (through the generated PyTorch binding's autograd)
against float64 torch.autograd on the sublayer IR, plus direct C-ABI checks of the
backward entry points.

Per case: random x [T, n, C], f [T, C] (the sublayer output, an independent input),
parameters, and cotangents dy, du, dH_pre, dH_post, dH_res. Ours: u, state = m.pre(x);
y = m.post(x, f, state); torch.autograd.backward on (y, u, H_pre, H_post, H_res).
Reference: the sublayer IR (generated/<v>/sublayer.json, design.md section 1 as the
compiler lowers it, every constraint included) interpreted in float64 torch with
requires_grad, differentiated by torch.autograd with the same cotangents.
Error of a gradient: max|ours - ref| / max|ref|. Bound (the bar): 1e-4 for the fp32
residual (every gradient), and for bf16 the fp32 gradients (phi, alpha, bias); bf16
dx and df: ||ours - ref|| / ||ref|| <= 8e-3 (bf16 roundings).
ABI checks per variant: every output written (NaN-poisoned), bit-identical results on a
second run (deterministic parameter gradients), dx_in accumulated in place (dx_in = dx),
dy and h_res handed to pre_backward (post_backward with dx = NULL) giving the same dx, with and
without dx_in, bad-input status codes.
Writes $OUT/verify_backward.json; exit 1 on any failure.

Usage: python3 scripts/gpu/verify_backward.py [--quick | --tiny] [--only v1,v2] [--first-seed S]
"""
import ctypes
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
QUICK = "--quick" in sys.argv
TINY = "--tiny" in sys.argv
ONLY = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None
# Case k (from 1, over the variants run) draws its inputs with seed FIRST_SEED + k: --first-seed reproduces a case
# of a longer run under --only (its seed is in the results).
FIRST_SEED = int(sys.argv[sys.argv.index("--first-seed") + 1]) if "--first-seed" in sys.argv else 5000
SLOTS = ("pre", "post", "res")
results = []


report = G.Checks()


def make_case(v, T, C, dtype, gen):
    n = v["n"]
    x = torch.randn(T, n, C, generator=gen, device=DEV).to(dtype)
    f = torch.randn(T, C, generator=gen, device=DEV).to(dtype)
    params = {}
    for p in v["parameters"]:
        name = p["name"]
        if name.startswith("phi_"):
            rows = G.phi_rows(p, n, C)
            params[name] = torch.randn(rows, p["shape"][1], generator=gen, device=DEV) / math.sqrt(rows)
        elif name == "alpha":
            params[name] = 0.3 + 0.7 * torch.rand(3, generator=gen, device=DEV)
        else:
            init = torch.tensor(v["initialBias"][name[len("bias_"):]], dtype=torch.float32, device=DEV)
            params[name] = init + 0.3 * torch.randn(init.shape, generator=gen, device=DEV)
    cot = {
        "y": torch.randn(T, n, C, generator=gen, device=DEV).to(dtype),
        "u": torch.randn(T, C, generator=gen, device=DEV).to(dtype),
        "H_pre": torch.randn(T, n, generator=gen, device=DEV),
        "H_post": torch.randn(T, n, generator=gen, device=DEV),
        "H_res": torch.randn(T, n, n, generator=gen, device=DEV),
    }
    return x, f, params, cot


def ours(cls, v, x, f, params, cot):
    C = x.shape[-1]
    m = cls(C, device=DEV)
    with torch.no_grad():
        for name, t in params.items():
            getattr(m, name).copy_(t)
    xg = x.clone().requires_grad_(True)
    fg = f.clone().requires_grad_(True)
    u, st = m.pre(xg)
    y = m.post(xg, fg, st)
    outs = [(y, cot["y"]), (u, cot["u"]), (st.h_pre, cot["H_pre"]), (st.h_post, cot["H_post"]), (st.h_res, cot["H_res"])]
    outs = [(o, c) for o, c in outs if o.requires_grad]  # a connection without parameters has constant coefficients
    torch.autograd.backward([o for o, _ in outs], [c for _, c in outs])
    torch.cuda.synchronize()
    out = {"x": xg.grad, "f": fg.grad}
    for name in params:
        out[name] = getattr(m, name).grad
    return out


def reference(graph, x, f, params, cot, T, C):
    leaves = {"x": x.double().requires_grad_(True), "f": f.double().requires_grad_(True)}
    for k, t in params.items():
        leaves[k] = t.double().requires_grad_(True)
    outs = G.interpret(graph, leaves, {"T": T, "C": C}, DEV)
    names = [k for k in ("y", "u", "H_pre", "H_post", "H_res") if outs[k].requires_grad]
    grads = torch.autograd.grad([outs[k] for k in names], list(leaves.values()), [cot[k].double() for k in names], allow_unused=True)
    return {k: (g if g is not None else torch.zeros_like(leaves[k])) for k, g in zip(leaves, grads)}


def compare(out, ref, dtype):
    ok = True
    errs = {}
    for name, r in ref.items():
        o = out[name]
        if o is None:
            errs[name] = "missing"
            ok = False
            continue
        o = o.double()
        if not torch.isfinite(o).all():
            errs[name] = {"nonfinite": int((~torch.isfinite(o)).sum())}
            ok = False
            continue
        scale = r.abs().max().item() or 1.0
        diff = (o - r).abs()
        rel = diff.max().item() / scale
        item = {"max_rel": rel}
        if dtype == torch.bfloat16 and name in ("x", "f"):
            # Rounded to bf16 (dx: two roundings, the post's and the pre's share, then their sum).
            norm_rel = (diff.norm() / (r.norm() + 1e-300)).item()
            item["norm_rel"] = norm_rel
            ok = ok and norm_rel <= 8e-3
        else:
            ok = ok and rel <= 1e-4
        errs[name] = item
    return ok, errs


# ---- direct C-ABI checks of the backward entry points ----

class Backward:
    """ctypes handles of the backward entry points (manifest.json's `backward` section)."""

    def __init__(self, symbol):
        d = os.path.join(G.GEN, symbol)
        with open(os.path.join(d, "manifest.json")) as fh:
            self.manifest = json.load(fh)
        self.cdll = ctypes.CDLL(os.path.join(d, f"lib{symbol}.so"))
        self.eps = {}
        for ep in self.manifest["backward"]["entryPoints"]:
            fn = getattr(self.cdll, ep["name"])
            fn.restype = ctypes.c_int
            fn.argtypes = [G.CTYPES[a["ctype"]] for a in ep["args"]]
            self.eps[ep["name"].replace(f"mhc_{symbol}_", "")] = (fn, [a["name"] for a in ep["args"]])
        self.params = [p["name"] for p in self.manifest["parameters"]]
        self.n = self.manifest["connection"]["n"]
        self.k = self.manifest["connection"]["k"]
        self.stats_width = self.manifest["backward"]["stats"]["shape"][1]  # [n, K + 1] per token for a per-stream projection

    def call(self, name, **kw):
        fn, names = self.eps[name]
        return fn(*[G.ptr(kw[a]) if isinstance(kw[a], torch.Tensor) or kw[a] is None else kw[a] for a in names])

    def workspace_size(self, T, C):
        out = ctypes.c_size_t(0)
        st = self.call("backward_workspace_size", T=T, C=C, bytes=ctypes.byref(out))
        if st != 0:
            raise RuntimeError(f"backward_workspace_size returned {G.STATUS.get(st, st)}")
        return out.value


def abi_checks(v, fwd, bwd, T, C, dtype, seed):
    """One backward through the C ABI with NaN-poisoned outputs, twice: every output written, same bits."""
    n = v["n"]
    gen = torch.Generator(device=DEV).manual_seed(seed)
    x, f, params, cot = make_case(v, T, C, dtype, gen)
    h_pre = torch.empty(T, n, device=DEV)
    h_post = torch.empty(T, n, device=DEV)
    h_res = torch.empty(T, n, n, device=DEV)
    u = torch.empty(T, C, device=DEV, dtype=dtype)
    ws_f = fwd.workspace_size(T, C)
    wsf = torch.empty(max(ws_f, 16), dtype=torch.uint8, device=DEV)
    st = fwd.pre(x, params, h_pre, h_post, h_res, u, wsf, ws_f)
    assert st == 0, G.STATUS.get(st, st)
    stats = torch.full((T, bwd.stats_width), float("nan"), device=DEV)
    st = bwd.call("save_stats", dtype=G.DTYPE_CODE[dtype], T=T, C=C, pre_workspace=wsf, pre_workspace_bytes=ws_f, stats=stats, stream=None)
    assert st == 0, G.STATUS.get(st, st)
    ws_b = bwd.workspace_size(T, C)
    ws = torch.empty(max(ws_b, 16), dtype=torch.uint8, device=DEV)

    def pre_backward(grads, **over):
        """pre_backward on this case's x, stats, h_pre, du and workspace, the parameter gradients into grads["grad_<p>"];
        `over` sets the other arguments (all NULL otherwise)."""
        args = dict(x=x, dtype=G.DTYPE_CODE[dtype], T=T, C=C, stats=stats, h_pre=h_pre, du=cot["u"], dh_pre=None, dh_post=None, dh_res=None, dx_in=None, dy=None,
                    h_res=None, dx=None, workspace=ws, workspace_bytes=ws_b, stream=None)
        args.update({p: params[p] for p in bwd.params})
        args.update({f"grad_{p}": grads[f"grad_{p}"] for p in bwd.params})
        args.update(over)
        return bwd.call("pre_backward", **args)

    def post_backward(**over):
        """post_backward on this case's x, f, coefficients, dy and workspace; `over` sets the outputs (NULL otherwise)."""
        args = dict(x=x, f=f, dtype=G.DTYPE_CODE[dtype], T=T, C=C, h_post=h_post, h_res=h_res, dy=cot["y"], dx=None, df=None, dh_post=None, dh_res=None,
                    workspace=ws, workspace_bytes=ws_b, stream=None)
        args.update(over)
        return bwd.call("post_backward", **args)

    def run():
        nan = float("nan")
        o = {
            "dx_post": torch.full((T, n, C), nan, device=DEV).to(dtype),
            "df": torch.full((T, C), nan, device=DEV).to(dtype),
            "dh_post": torch.full((T, n), nan, device=DEV),
            "dh_res": torch.full((T, n, n), nan, device=DEV),
            "dx_pre": torch.full((T, n, C), nan, device=DEV).to(dtype),
        }
        for p in bwd.params:
            o[f"grad_{p}"] = torch.full_like(params[p], nan)
        s = post_backward(dx=o["dx_post"], df=o["df"], dh_post=o["dh_post"], dh_res=o["dh_res"])
        assert s == 0, G.STATUS.get(s, s)
        s = pre_backward(o, dh_pre=cot["H_pre"], dh_post=o["dh_post"], dh_res=o["dh_res"], dx=o["dx_pre"])
        assert s == 0, G.STATUS.get(s, s)
        torch.cuda.synchronize()
        return o

    a = run()
    b = run()
    written = all(bool(torch.isfinite(t.float()).all()) for t in a.values())
    same = all(torch.equal(a[k], b[k]) for k in a)
    # dx_in: the post's dx accumulated in place by the pre's kernel equals the sum of the two.
    acc = a["dx_post"].clone()
    scratch = {f"grad_{p}": torch.empty_like(params[p]) for p in bwd.params}
    s = pre_backward(scratch, dh_pre=cot["H_pre"], dh_post=a["dh_post"], dh_res=a["dh_res"], dx_in=acc, dx=acc)
    torch.cuda.synchronize()
    want = a["dx_post"].double() + a["dx_pre"].double()
    tol = (2.0 ** -7 if dtype == torch.bfloat16 else 1e-5) * want.abs().max().item()  # fp32: the two sums' orders differ
    in_place = s == 0 and (acc.double() - want).abs().max().item() <= tol

    # dy handed to pre_backward (post_backward with dx = NULL): it forms H_res^T dy itself; with dx_in too,
    # both are added. post_backward's other outputs do not change when dx is left out.
    df2, dhp2, dhr2 = torch.empty_like(a["df"]), torch.empty_like(a["dh_post"]), torch.empty_like(a["dh_res"])
    s_post = post_backward(df=df2, dh_post=dhp2, dh_res=dhr2)
    mixed = torch.full_like(a["dx_pre"], float("nan"))
    s_mix = pre_backward(scratch, dh_pre=cot["H_pre"], dh_post=dhp2, dh_res=dhr2, dy=cot["y"], h_res=h_res, dx=mixed)
    both = a["dx_post"].clone()
    s_both = pre_backward(scratch, dh_pre=cot["H_pre"], dh_post=dhp2, dh_res=dhr2, dx_in=both, dy=cot["y"], h_res=h_res, dx=both)
    torch.cuda.synchronize()
    want2 = want + a["dx_post"].double()
    dy_mixed = (s_post == 0 and s_mix == 0 and s_both == 0 and torch.equal(df2, a["df"]) and torch.equal(dhp2, a["dh_post"]) and torch.equal(dhr2, a["dh_res"])
                and (mixed.double() - want).abs().max().item() <= tol and (both.double() - want2).abs().max().item() <= 2 * tol)

    # Bad inputs: status codes, never a crash.
    def pre_bwd(**over):
        return pre_backward(a, **{"dx": a["dx_pre"], **over})

    def post_bwd(**over):
        return post_backward(**{"dx": a["dx_post"], "df": a["df"], "dh_post": a["dh_post"], "dh_res": a["dh_res"], **over})

    cases = [
        ("pre_backward x NULL", lambda: pre_bwd(x=None), 1),
        ("pre_backward dx NULL", lambda: pre_bwd(dx=None), 1),
        ("pre_backward dy without h_res", lambda: pre_bwd(dy=cot["y"]), 1),
        ("pre_backward dy misaligned", lambda: pre_bwd(dy=cot["y"].data_ptr() + 1, h_res=h_res), 4),
        ("pre_backward dy is dx", lambda: pre_bwd(dy=a["dx_pre"], h_res=h_res), 7),
        (f"pre_backward grad_{bwd.params[0]} NULL", lambda: pre_bwd(**{f"grad_{bwd.params[0]}": None}), 1),
        ("pre_backward dtype 9", lambda: pre_bwd(dtype=9), 3),
        ("pre_backward C = 0", lambda: pre_bwd(C=0), 2),
        ("pre_backward du misaligned", lambda: pre_bwd(du=cot["u"].data_ptr() + 1), 4),
        ("pre_backward workspace too small", lambda: pre_bwd(workspace_bytes=ws_b - 1), 5),
        ("post_backward dy NULL", lambda: post_bwd(dy=None), 1),
        ("post_backward T = -3", lambda: post_bwd(T=-3), 2),
        ("post_backward dh_res misaligned", lambda: post_bwd(dh_res=a["dh_res"].data_ptr() + 2), 4),
        ("post_backward workspace too small", lambda: post_bwd(workspace_bytes=0), 5 if ws_b > 0 else 0),
    ]
    if bwd.k > 0:
        cases.append(("pre_backward stats NULL", lambda: pre_bwd(stats=None), 1))
        cases.append(("save_stats workspace too small", lambda: bwd.call("save_stats", dtype=G.DTYPE_CODE[dtype], T=T, C=C, pre_workspace=wsf, pre_workspace_bytes=0, stats=stats, stream=None), 5))
    bad = []
    for name, fn, want in cases:
        got = fn()
        if got != want:
            bad.append({"check": name, "expected": G.STATUS[want], "got": G.STATUS.get(got, got)})
    torch.cuda.synchronize()
    return written, same, in_place and dy_mixed, bad


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}, {props.multi_processor_count} SMs; torch {torch.__version__}", flush=True)
    seed = FIRST_SEED
    t0 = time.time()
    worst = {}
    for v in G.variants():
        if ONLY and v["symbol"] not in ONLY:
            continue
        mod, cls = G.load_binding(v["symbol"])
        graph = G.load_graph(v["symbol"])
        for T, C in G.verify_shapes(v, QUICK, TINY):
            for dtype in (torch.float32, torch.bfloat16):
                seed += 1
                name = f"{v['symbol']} T={T} C={C} {str(dtype).replace('torch.', '')}"
                # Give cached blocks back first: a kernel with a large per-thread stack (the n = 16
                # constraint backward keeps ~47 KB per token) needs the driver to reserve it for
                # every resident thread at launch, and fails with cudaErrorMemoryAllocation when
                # the caching allocator holds the memory.
                torch.cuda.empty_cache()
                try:
                    gen = torch.Generator(device=DEV).manual_seed(seed)
                    x, f, params, cot = make_case(v, T, C, dtype, gen)
                    out = ours(cls, v, x, f, params, cot)
                    ref = reference(graph, x, f, params, cot, T, C)
                    ok, errs = compare(out, ref, dtype)
                    del ref, out
                except Exception as exc:  # a status code or a CUDA fault: a failure, not a crash
                    ok, errs = False, {"exception": repr(exc)}
                short = {k: (round(e["max_rel"], 9) if isinstance(e, dict) and "max_rel" in e else e) for k, e in errs.items()}
                report(ok, name, json.dumps(short))
                results.append({"variant": v["symbol"], "n": v["n"], "T": T, "C": C, "dtype": str(dtype), "seed": seed, "ok": ok, "errors": errs})
                if dtype == torch.float32 and "exception" not in errs:
                    w = worst.setdefault(v["symbol"], {})
                    for k, e in errs.items():
                        if isinstance(e, dict) and "max_rel" in e:
                            w[k] = max(w.get(k, 0.0), e["max_rel"])
        fwd = G.Library(v["symbol"])
        bwd = Backward(v["symbol"])
        for dtype in (torch.float32, torch.bfloat16):
            T, C = (33, 100) if v["n"] % 2 else (33, 96)
            seed += 1
            try:
                written, same, in_place, bad = abi_checks(v, fwd, bwd, T, C, dtype, seed)
                ok = written and same and in_place and not bad
                detail = {"all_written": written, "deterministic": same, "dx_in_and_dy_added": in_place, "bad_input_mismatches": bad}
            except Exception as exc:
                ok, detail = False, {"exception": repr(exc)}
            report(ok, f"{v['symbol']} abi {str(dtype).replace('torch.', '')}", json.dumps(detail))
            results.append({"variant": v["symbol"], "check": "abi", "dtype": str(dtype), "ok": ok, **detail})
    summary = {"device": props.name, "torch": torch.__version__, "cases": len(results), "failures": report.failures, "seconds": round(time.time() - t0, 1),
               "worst_fp32_max_rel": worst}
    with open(os.path.join(out_dir, "verify_backward.json"), "w") as fh:
        json.dump({"summary": summary, "results": results}, fh, indent=1)
    print("worst fp32 relative errors per variant:")
    for sym, w in worst.items():
        print(f"  {sym}: " + ", ".join(f"{k} {val:.2e}" for k, val in w.items()))
    print(f"{'ALL PASS' if report.failures == 0 else 'FAILURES'}: {json.dumps({k: v for k, v in summary.items() if k != 'worst_fp32_max_rel'})}", flush=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
