"""Correctness of mhc_<v>_post_pre (design 4.2 item 4: the post of sublayer l with the pre of
sublayer l + 1, one fused pass for a bf16 residual) against the unfused post then pre and
against the float64 reference, both residual dtypes, odd C and T; status codes for bad input;
the PyTorch binding's Module.post_pre and recompute_block(fuse=True) (values and gradients).

Checks per case (x, f and sublayer l's coefficients from mhc_<v>_pre; the next sublayer's
parameters drawn separately):
  y            bit-identical to mhc_<v>_post (the fused kernel does post_kernel's arithmetic),
               also when y aliases x (in place)
  H_*, u       of sublayer l + 1 vs mhc_<v>_pre(y): max|a - b| <= 1e-5 max|b| (u: bf16 rounding);
               vs the float64 reference of the sublayer IR on y: the tolerances of verify_forward.py
  stats        vs float64 y @ [phi] and sum y^2: <= 1e-5 of the column group's max
Writes $OUT/verify_post_pre.json; prints PASS/FAIL lines; exit 1 on any failure.

The fused kernel is off by default (post-prenorm.ts POST_PRENORM_FUSED); a tree generated with
`generate.ts --fuse-post-prenorm` (MHC_GPU_GEN) has it on where it applies; each variant's line says which.
Build the libraries with the backward (build.sh without -DMHC_NO_BACKWARD): the float32 post_pre gives
its stats through mhc_<v>_save_stats, which a forward-only build lacks (it returns MHC_ERR_UNSUPPORTED).

Usage: python3 scripts/gpu/verify_post_pre.py [--tiny] [--only v1,v2] [--no-binding]
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mhc_gpu as G  # noqa: E402

DEV = torch.device("cuda")
TINY = "--tiny" in sys.argv
ONLY = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else None
BINDING = "--no-binding" not in sys.argv


report = G.Checks()


def make_params(v, C, gen):
    n = v["n"]
    params = {}
    for p in v["parameters"]:
        name = p["name"]
        if name.startswith("phi_"):
            params[name] = torch.randn(n * C, p["shape"][1], generator=gen, device=DEV) / math.sqrt(n * C)
        elif name == "alpha":
            params[name] = 0.3 + 0.7 * torch.rand(3, generator=gen, device=DEV)
        else:
            init = torch.tensor(v["initialBias"][name[len("bias_"):]], dtype=torch.float32, device=DEV)
            params[name] = init + 0.3 * torch.randn(init.shape, generator=gen, device=DEV)
    return params


def workspace(nbytes):
    return torch.empty(max(nbytes, 16), dtype=torch.uint8, device=DEV)


def post_pre_size(lib, T, C):
    import ctypes
    out = ctypes.c_size_t(0)
    st = lib.call("post_pre_workspace_size", T=T, C=C, bytes=ctypes.byref(out))
    assert st == 0, st
    return out.value


def call_post_pre(lib, xt, ft, hpost, hres, prm, yt, outs, ws, ws_bytes, **over):
    """mhc_<v>_post_pre with tensors; `over` replaces ABI arguments by name (raw pointers, None, bad values)."""
    T, n, C = xt.shape
    kw = dict(x=G.ptr(xt), f=G.ptr(ft), dtype=G.DTYPE_CODE[xt.dtype], T=T, C=C, h_post=G.ptr(hpost), h_res=G.ptr(hres), y=G.ptr(yt),
              h_pre_next=G.ptr(outs["H_pre"]), h_post_next=G.ptr(outs["H_post"]), h_res_next=G.ptr(outs["H_res"]), u_next=G.ptr(outs["u"]),
              stats_next=G.ptr(outs.get("stats")), workspace=G.ptr(ws), workspace_bytes=ws_bytes, stream=torch.cuda.current_stream().cuda_stream,
              **{p: G.ptr(prm[p]) for p in lib.params})
    kw.update(over)
    return lib.call("post_pre", **kw)


def fresh_outputs(T, n, C, dtype, K):
    nan = float("nan")
    return {"H_pre": torch.full((T, n), nan, device=DEV), "H_post": torch.full((T, n), nan, device=DEV), "H_res": torch.full((T, n, n), nan, device=DEV),
            "u": torch.full((T, C), nan, device=DEV).to(dtype), "stats": torch.full((T, K + 1), nan, device=DEV) if K > 0 else None}


def rel(a, b):
    scale = b.abs().max().item() or 1.0
    return (a.double() - b.double()).abs().max().item() / scale


def check_case(v, lib, graph, T, C, dtype, seed):
    n, K = v["n"], v["k"]
    gen = torch.Generator(device=DEV).manual_seed(seed)
    x = torch.randn(T, n, C, generator=gen, device=DEV).to(dtype)
    f = torch.randn(T, C, generator=gen, device=DEV).to(dtype)
    p_l, p_next = make_params(v, C, gen), make_params(v, C, gen)
    # sublayer l's coefficients, unfused
    h = fresh_outputs(T, n, C, dtype, K)
    ws_pre = workspace(lib.workspace_size(T, C))
    assert lib.pre(x, p_l, h["H_pre"], h["H_post"], h["H_res"], h["u"], ws_pre, lib.workspace_size(T, C)) == 0
    # unfused: post, then pre of l + 1
    y_ref = torch.empty_like(x)
    assert lib.post(x, f, h["H_post"], h["H_res"], y_ref) == 0
    un = fresh_outputs(T, n, C, dtype, K)
    assert lib.pre(y_ref, p_next, un["H_pre"], un["H_post"], un["H_res"], un["u"], ws_pre, lib.workspace_size(T, C)) == 0
    # fused
    wsb = post_pre_size(lib, T, C)
    ws = workspace(wsb)
    fu = fresh_outputs(T, n, C, dtype, K)
    y = torch.full_like(x, float("nan"))
    st = call_post_pre(lib, x, f, h["H_post"], h["H_res"], p_next, y, fu, ws, wsb)
    # in place: y = x
    xi = x.clone()
    fi = fresh_outputs(T, n, C, dtype, K)
    st2 = call_post_pre(lib, xi, f, h["H_post"], h["H_res"], p_next, xi, fi, ws, wsb)
    torch.cuda.synchronize()
    name = f"{v['symbol']} T={T} C={C} {str(dtype).replace('torch.', '')}"
    if st != 0 or st2 != 0:
        report(False, name, f"status {G.STATUS.get(st, st)} / in place {G.STATUS.get(st2, st2)}")
        return
    detail = {}
    ok = True
    detail["y_bit_identical"] = bool(torch.equal(y, y_ref))
    detail["in_place_bit_identical"] = bool(torch.equal(xi, y) and all(torch.equal(fi[k], fu[k]) for k in ("H_pre", "H_post", "H_res", "u")))
    ok = ok and detail["y_bit_identical"] and detail["in_place_bit_identical"]
    for k in ("H_pre", "H_post", "H_res", "u"):
        if not torch.isfinite(fu[k].float()).all():
            detail[f"{k}_nonfinite"] = True
            ok = False
            continue
        e = rel(fu[k], un[k])
        detail[f"{k}_vs_unfused"] = e
        # u: both are one bf16 rounding of nearly equal values
        ok = ok and e <= (2.0 ** -8 if (k == "u" and dtype == torch.bfloat16) else 1e-5)
    # float64 reference of sublayer l + 1 on y (y is exact in float64)
    inputs = {"x": y.double(), "f": torch.zeros(T, C, dtype=torch.float64, device=DEV), **{k: t.double() for k, t in p_next.items()}}
    ref = G.interpret(graph, inputs, {"T": T, "C": C}, DEV)
    for k in ("H_pre", "H_post", "H_res", "u"):
        r = ref[k]
        o = fu[k].double()
        scale = r.abs().max().item() or 1.0
        diff = (o - r).abs()
        if k == "u" and dtype == torch.bfloat16:
            bad = int((diff > (2.0 ** -8) * r.abs() + 1e-5 * scale).sum())
            detail["u_bf16_violations"] = bad
            ok = ok and bad == 0
        else:
            e = diff.max().item() / scale
            detail[f"{k}_vs_f64"] = e
            ok = ok and e <= 1e-5
    # y vs the float64 post of sublayer l
    ref_l = G.interpret(graph, {"x": x.double(), "f": f.double(), **{k: t.double() for k, t in p_l.items()}}, {"T": T, "C": C}, DEV)
    ry = ref_l["y"]
    scale = ry.abs().max().item() or 1.0
    tol = (2.0 ** -8) * ry.abs() + 1e-5 * scale if dtype == torch.bfloat16 else 1e-5 * scale
    detail["y_f64_violations"] = int(((y.double() - ry).abs() > tol).sum())
    ok = ok and detail["y_f64_violations"] == 0
    if K > 0:
        phis = [p_next[p].double() for p in lib.params if p.startswith("phi_")]
        yf = y.double().reshape(T, n * C)
        proj = yf @ torch.cat(phis, dim=1)
        ss = (yf * yf).sum(dim=1)
        s = fu["stats"].double()
        detail["stats_proj_vs_f64"] = rel(s[:, :K], proj)
        detail["stats_ss_vs_f64"] = rel(s[:, K], ss)
        ok = ok and detail["stats_proj_vs_f64"] <= 1e-5 and detail["stats_ss_vs_f64"] <= 1e-5
    report(ok, name, json.dumps({k: (round(val, 9) if isinstance(val, float) else val) for k, val in detail.items()}))


def bad_input_checks(v, lib):
    n, K, T, C = v["n"], v["k"], 7, 96
    gen = torch.Generator(device=DEV).manual_seed(3)
    x = torch.randn(T, n, C, generator=gen, device=DEV).bfloat16()
    f = torch.randn(T, C, generator=gen, device=DEV).bfloat16()
    p = make_params(v, C, gen)
    hp = torch.full((T, n), 0.5, device=DEV)
    hr = torch.full((T, n, n), 1.0 / n, device=DEV)
    y = torch.empty_like(x)
    outs = fresh_outputs(T, n, C, torch.bfloat16, K)
    need = post_pre_size(lib, T, C)
    ws = workspace(need + 64)
    first = lib.params[0]
    cases = [
        ("x NULL", dict(x=None), 1),
        (f"{first} NULL", {first: None}, 1),
        ("y NULL", dict(y=None), 1),
        ("u_next NULL", dict(u_next=None), 1),
        ("h_res NULL", dict(h_res=None), 1),
        ("dtype 5", dict(dtype=5), 3),
        ("T = -1", dict(T=-1), 2),
        ("C = 0", dict(C=0), 2),
        ("x misaligned", dict(x=x.data_ptr() + 1), 4),
        ("h_post misaligned", dict(h_post=hp.data_ptr() + 2), 4),
        ("T = 0", dict(T=0), 0),
        ("stats_next NULL (allowed)", dict(stats_next=None), 0),
    ]
    if need > 0:
        cases += [("workspace too small", dict(workspace_bytes=need - 1), 5), ("workspace NULL", dict(workspace=None), 1),
                  ("workspace misaligned", dict(workspace=ws.data_ptr() + 4, workspace_bytes=need), 4)]
    for label, over, want in cases:
        got = call_post_pre(lib, x, f, hp, hr, p, y, outs, ws, need, **over)
        report(got == want, f"{v['symbol']} bad input: {label}", f"expected {G.STATUS[want]}, got {G.STATUS.get(got, got)}")
    torch.cuda.synchronize()


def binding_checks(symbol, T, C, fused, layers=4):
    """Module.post_pre in a chain vs module.forward chained; recompute_block(fuse=True) vs the post_pre chain.
    fused: post_pre fuses the post with the next prenorm at this T (then the prenorm sums are reassociated)."""
    mod, cls = G.load_binding(symbol)
    for dtype in (torch.float32, torch.bfloat16):
        gen = torch.Generator(device=DEV).manual_seed(11)
        mods = [cls(C, device=DEV) for _ in range(layers)]
        with torch.no_grad():
            for m in mods:
                m.alpha.uniform_(0.3, 1.0, generator=gen)
        n = cls.n
        x0 = torch.randn(T, n, C, generator=gen, device=DEV).to(dtype)
        dy = torch.randn(T, n, C, generator=gen, device=DEV).to(dtype)
        fns = [(lambda u, w=1.0 + 0.1 * i: (u.float() * w).to(u.dtype)) for i in range(layers)]

        def chained():
            x = x0.clone().requires_grad_(True)
            y = x
            for m, fn in zip(mods, fns):
                y = m.forward(y, fn)
            return x, y

        def fused_chain():
            x = x0.clone().requires_grad_(True)
            u, state = mods[0].pre(x)
            y = x
            for l, (m, fn) in enumerate(zip(mods, fns)):
                if l + 1 < layers:
                    y, u, state = m.post_pre(y, fn(u), state, mods[l + 1])
                else:
                    y = m.post(y, fn(u), state)
            return x, y

        def recompute(fuse, segment):
            x = x0.clone().requires_grad_(True)
            return x, mod.recompute_block(mods, fns, x, segment=segment, fuse=fuse)

        runs = {}
        for label, fn in (("chained", chained), ("post_pre", fused_chain), ("recompute_fused_seg_all", lambda: recompute(True, layers)),
                          ("recompute_fused_seg2", lambda: recompute(True, 2))):
            for m in mods:
                m.zero_grad(set_to_none=True)
            x, y = fn()
            y.backward(dy)
            torch.cuda.synchronize()
            runs[label] = [y.detach().clone(), x.grad.clone()] + [p.grad.clone() for m in mods for p in m.parameters()]
        dn = str(dtype).replace("torch.", "")

        def max_rel(a, b):
            return max(rel(s, t) for s, t in zip(a, b))

        same = all(torch.equal(a, b) for a, b in zip(runs["post_pre"], runs["recompute_fused_seg_all"]))
        report(same, f"binding {symbol} {dn} recompute_block(fuse=True, segment=L) == post_pre chain (bits)", "")
        d = max_rel(runs["post_pre"], runs["chained"])
        if dtype == torch.float32 and not fused:
            # post_pre runs post then pre: the same kernels, so the same bits
            same = all(torch.equal(a, b) for a, b in zip(runs["post_pre"], runs["chained"]))
            report(same, f"binding {symbol} {dn} T={T} post_pre chain == module.forward chain (bits; unfused)", f"max rel {d:.3g}")
        elif dtype == torch.float32:
            report(d <= 1e-5, f"binding {symbol} {dn} T={T} post_pre chain vs module.forward chain (fused: prenorm sums reassociated)", f"max rel {d:.3g}")
        else:
            report(d <= 0.05, f"binding {symbol} {dn} post_pre chain vs module.forward chain (values and gradients)", f"max rel {d:.3g} (<= 0.05: bf16 residuals)")
        d2 = max_rel(runs["recompute_fused_seg2"], runs["chained"])
        report(d2 <= (1e-5 if dtype == torch.float32 else 0.05), f"binding {symbol} {dn} recompute_block(fuse=True, segment=2) vs module.forward chain", f"max rel {d2:.3g}")


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    wanted = ONLY or ["mhc_n1", "mhc_n4", "mhc_n8", "mhc_n16"]
    vs = [v for v in G.variants() if v["symbol"] in wanted]
    # Up to 48 tokens (the generated limits, knobs.ts) post_pre takes the small-T kernel with the post in front (17: a
    # second, partial tile) and pre the small-T kernel alone; 49 and more are post, then pre, on the tiled kernels.
    shapes = [(1, 96), (7, 100), (17, 100), (49, 96), (65, 96)] if TINY else [(T, C) for C in (96, 100, 4096) for T in (1, 7, 17, 48, 49, 64, 65, 1023)]
    for v in vs:
        lib = G.Library(v["symbol"])
        graph = G.load_graph(v["symbol"])
        fused = any(k["name"] == "post_prenorm_mma_kernel" for k in lib.manifest["kernels"])
        small = next((k["postPreWhenTokensAtMost"] for k in lib.manifest["kernels"] if k["name"] == "small_prenorm_kernel"), None)
        paths = (f"post and prenorm in the small-T kernel up to T = {small}, " if small else "") + ("bf16 fused kernel" if fused else "post then pre") + (" above it" if small else "")
        print(f"== {v['symbol']} (n = {v['n']}, K = {v['k']}: {paths})", flush=True)
        seed = 100
        for T, C in shapes:
            for dtype in (torch.bfloat16, torch.float32):
                seed += 1
                check_case(v, lib, graph, T, C, dtype, seed)
        bad_input_checks(v, lib)
    if BINDING and not TINY:
        for symbol in [s for s in ("mhc_n4", "mhc_n1") if s in wanted]:
            lib = G.Library(symbol)
            small = next((k["postPreWhenTokensAtMost"] for k in lib.manifest["kernels"] if k["name"] == "small_prenorm_kernel"), 0)
            for T in (37, 100):  # the small-T kernel with the post in front, and post then pre
                binding_checks(symbol, T, 256, T <= small)  # fp32: the tensor-core fused kernel is bf16 only
    with open(os.path.join(out_dir, "verify_post_pre.json"), "w") as fh:
        json.dump({"failures": report.failures, "cases": report.cases}, fh, indent=1)
    print(f"verify_post_pre: {len(report.cases)} checks, {report.failures} failures", flush=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
