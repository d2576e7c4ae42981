"""Correctness of the generated forward kernels (mhc_<v>_pre, mhc_<v>_post) against a
float64 reference, on odd shapes, both residual dtypes; bad-input status codes.

Reference: the sublayer IR (generated/<v>/sublayer.json, design.md section 1 exactly as
the compiler lowers it) interpreted in float64 torch; for the prelude `mhc` also a
hand-written float64 port of design.md section 1 (cross-check of the interpreter).
Tolerances: coefficients and fp32 residual outputs max|out - ref| <= 1e-5 * max|ref|;
bf16 outputs |out - ref| <= 2^-8 |ref| + 1e-5 max|ref| elementwise (one bf16 rounding).
Where the maths amplifies rounding (e.g. orthostochastic's Newton-Schulz steps at n = 8 on
an ill-conditioned logit matrix), even an exact fp32 evaluation misses 1e-5: an output over
1e-5 passes only if it is within FP32_FACTOR times the error of the same IR evaluated in
fp32 by torch; such cases are listed with both errors (`fp32_reference_max_rel`).
Writes $OUT/verify.json; prints PASS/FAIL lines; exit 1 on any failure.

Usage: python3 scripts/gpu/verify_forward.py [--quick | --tiny | --race] [--only v1,v2]
"""
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
TINY = "--tiny" in sys.argv  # compute-sanitizer runs: a few small shapes
RACE = "--race" in sys.argv  # racecheck (slower per shared-memory access): two shapes, one of them with the pre-split GEMM
ONLY = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None
results = []


report = G.Checks()


def make_inputs(v, T, C, dtype, gen):
    n = v["n"]
    x = torch.randn(T, n, C, generator=gen, device=DEV).to(dtype)
    f = torch.randn(T, C, generator=gen, device=DEV).to(dtype)
    params = {}
    for p in v["parameters"]:
        name = p["name"]
        if name.startswith("phi_"):
            k = p["shape"][1]
            rows = G.phi_rows(p, n, C)
            params[name] = torch.randn(rows, k, generator=gen, device=DEV) / math.sqrt(rows)
        elif name == "alpha":
            params[name] = 0.3 + 0.7 * torch.rand(3, generator=gen, device=DEV)
        else:
            slot = name[len("bias_"):]
            init = torch.tensor(v["initialBias"][slot], dtype=torch.float32, device=DEV)
            params[name] = init + 0.3 * torch.randn(init.shape, generator=gen, device=DEV)
    return x, f, params


def run_kernels(lib, x, f, params, T, C):
    n = lib.n
    nan = float("nan")
    h_pre = torch.full((T, n), nan, device=DEV)
    h_post = torch.full((T, n), nan, device=DEV)
    h_res = torch.full((T, n, n), nan, device=DEV)
    u = torch.full((T, C), nan, device=DEV).to(x.dtype)
    y = torch.full((T, n, C), nan, device=DEV).to(x.dtype)
    ws_bytes = lib.workspace_size(T, C)
    ws = torch.empty(max(ws_bytes, 16), dtype=torch.uint8, device=DEV)
    st = lib.pre(x, params, h_pre, h_post, h_res, u, ws, ws_bytes)
    if st != 0:
        raise RuntimeError(f"pre returned {G.STATUS.get(st, st)}")
    st = lib.post(x, f, h_post, h_res, y)
    if st != 0:
        raise RuntimeError(f"post returned {G.STATUS.get(st, st)}")
    torch.cuda.synchronize()
    return {"H_pre": h_pre, "H_post": h_post, "H_res": h_res, "u": u, "y": y}


FP32_FACTOR = 8.0


def errors(out, ref, dtype, ref32=None):
    """(ok, per-output errors); ref32: a callable giving the fp32 evaluation of the reference (for outputs over 1e-5)."""
    e = {}
    ok = True
    for name, r in ref.items():
        o = out[name].double()
        if not torch.isfinite(o).all():
            e[name] = {"nonfinite": int((~torch.isfinite(o)).sum())}
            ok = False
            continue
        scale = r.abs().max().item() or 1.0
        diff = (o - r).abs()
        rel = diff.max().item() / scale
        item = {"max_rel": rel}
        if name in ("u", "y") and dtype == torch.bfloat16:
            bound = (2.0 ** -8) * r.abs() + 1e-5 * scale
            bad = int((diff > bound).sum())
            item["bf16_violations"] = bad
            ok = ok and bad == 0
        else:
            if rel > 1e-5 and ref32 is not None:
                e32 = ((ref32()[name].double() - r).abs().max().item()) / scale
                item["fp32_reference_max_rel"] = e32
                item["bound"] = max(1e-5, FP32_FACTOR * e32)
                ok = ok and rel <= item["bound"]
            else:
                ok = ok and rel <= 1e-5
        e[name] = item
    return ok, e


def reference(v, graph, x, f, params, T, C, dtype=torch.float64):
    inputs = {"x": x.to(dtype), "f": f.to(dtype), **{k: t.to(dtype) for k, t in params.items()}}
    ref = G.interpret(graph, inputs, {"T": T, "C": C}, DEV, dtype)
    return {k: ref[k] for k in ("H_pre", "H_post", "H_res", "u", "y")}


def check_case(v, lib, graph, T, C, dtype, seed):
    gen = torch.Generator(device=DEV).manual_seed(seed)
    x, f, params = make_inputs(v, T, C, dtype, gen)
    out = run_kernels(lib, x, f, params, T, C)
    ref = reference(v, graph, x, f, params, T, C)
    ref32 = {}

    def fp32_reference():
        if not ref32:
            ref32.update(reference(v, graph, x, f, params, T, C, torch.float32))
        return ref32

    ok, e = errors(out, ref, dtype, fp32_reference)
    extra = {}
    if v["connection"] == "mhc" and T * v["n"] * C <= 4_000_000:
        hand = G.mhc_ref(x, f, params, v["n"])
        d = max(((hand[k] - ref[k]).abs().max().item() for k in ref), default=0.0)
        extra["ir_vs_hand_written"] = d
        ok = ok and d < 1e-9
    del ref
    return ok, e, extra, (x, f, params, out)


def bad_input_checks(v, lib):
    """Status codes for bad inputs; nothing may crash or launch."""
    n, T, C = v["n"], 7, 96
    gen = torch.Generator(device=DEV).manual_seed(1)
    x, f, params = make_inputs(v, T, C, torch.bfloat16, gen)
    h_pre = torch.zeros(T, n, device=DEV)
    h_post = torch.zeros(T, n, device=DEV)
    h_res = torch.zeros(T, n, n, device=DEV)
    u = torch.zeros(T, C, device=DEV, dtype=torch.bfloat16)
    y = torch.zeros(T, n, C, device=DEV, dtype=torch.bfloat16)
    need = lib.workspace_size(T, C)
    ws = torch.zeros(need + 64, dtype=torch.uint8, device=DEV)
    checks = []

    def pre(**kw):
        a = dict(x=x, params=params, h_pre=h_pre, h_post=h_post, h_res=h_res, u=u, workspace=ws, workspace_bytes=need)
        a.update(kw)
        return lib.pre(a.pop("x"), a.pop("params"), a.pop("h_pre"), a.pop("h_post"), a.pop("h_res"), a.pop("u"), a.pop("workspace"), a.pop("workspace_bytes"), **a)

    def post(**kw):
        a = dict(x=x, f=f, h_post=h_post, h_res=h_res, y=y)
        a.update(kw)
        return lib.post(a.pop("x"), a.pop("f"), a.pop("h_post"), a.pop("h_res"), a.pop("y"), **a)

    p0 = dict(params)
    first_param = lib.params[0]
    cases = [
        ("pre x NULL", lambda: pre(x=None, T=T, C=C, dtype=1), 1),
        (f"pre {first_param} NULL", lambda: pre(params={**p0, first_param: None}), 1),
        ("pre h_res NULL", lambda: pre(h_res=None), 1),
        ("pre dtype 7", lambda: pre(dtype=7), 3),
        ("pre T = -1", lambda: pre(T=-1), 2),
        ("pre C = 0", lambda: pre(C=0), 2),
        ("pre T = 2^40", lambda: pre(T=1 << 40), 2),
        ("pre x misaligned (1 byte)", lambda: pre(x=x.data_ptr() + 1, T=T, C=C, dtype=1), 4),
        ("pre h_pre misaligned (2 bytes)", lambda: pre(h_pre=h_pre.data_ptr() + 2), 4),
        ("pre T = 0", lambda: pre(T=0), 0),
        ("post f NULL", lambda: post(f=None, T=T, C=C, dtype=1), 1),
        ("post y misaligned (1 byte)", lambda: post(y=y.data_ptr() + 1, T=T, C=C, dtype=1), 4),
        ("post dtype -1", lambda: post(dtype=-1), 3),
        ("post C = -5", lambda: post(C=-5), 2),
        ("post T = 0", lambda: post(T=0), 0),
    ]
    if need > 0:
        cases += [
            ("pre workspace too small", lambda: pre(workspace_bytes=need - 1), 5),
            ("pre workspace NULL", lambda: pre(workspace=None), 1),
            ("pre workspace misaligned (4 bytes)", lambda: pre(workspace=ws.data_ptr() + 4), 4),
        ]
    for name, fn, want in cases:
        got = fn()
        checks.append({"check": name, "expected": G.STATUS[want], "got": G.STATUS.get(got, got), "ok": got == want})
    torch.cuda.synchronize()
    err = torch.cuda.current_stream().query()  # raises if a launch faulted
    return checks


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out_dir = os.environ.get("OUT", os.path.join(G.HERE, "out"))
    os.makedirs(out_dir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    print(f"device: {props.name}, {props.multi_processor_count} SMs; torch {torch.__version__}", flush=True)
    seed = 1000
    t_start = time.time()
    for v in G.variants():
        if ONLY and v["symbol"] not in ONLY:
            continue
        lib = G.Library(v["symbol"])
        graph = G.load_graph(v["symbol"])
        for T, C in G.verify_shapes(v, QUICK, TINY, RACE):
            for dtype in (torch.float32, torch.bfloat16):
                seed += 1
                name = f"{v['symbol']} T={T} C={C} {str(dtype).replace('torch.', '')}"
                try:
                    ok, e, extra, _ = check_case(v, lib, graph, T, C, dtype, seed)
                except Exception as exc:  # a status code or a CUDA fault: a failure, not a crash
                    ok, e, extra = False, {"exception": repr(exc)}, {}
                worst = {k: (round(val.get("max_rel", float("nan")), 9) if isinstance(val, dict) else val) for k, val in e.items()}
                report(ok, name, json.dumps({**worst, **extra}))
                results.append({"variant": v["symbol"], "n": v["n"], "T": T, "C": C, "dtype": str(dtype), "ok": ok, "errors": e, **extra})
        # Odd layouts: x / f / y offset by one element (scalar paths), in-place post, determinism.
        T, C = 7, 100 if v["n"] % 2 else 96
        for dtype in (torch.float32, torch.bfloat16):
            gen = torch.Generator(device=DEV).manual_seed(seed + 77)
            x, f, params = make_inputs(v, T, C, dtype, gen)
            xb = torch.empty(T * v["n"] * C + 1, dtype=dtype, device=DEV)
            xb[1:] = x.reshape(-1)
            xo = xb[1:].view(T, v["n"], C)
            fb = torch.empty(T * C + 1, dtype=dtype, device=DEV)
            fb[1:] = f.reshape(-1)
            fo = fb[1:].view(T, C)
            a = run_kernels(lib, x, f, params, T, C)
            b = run_kernels(lib, xo, fo, params, T, C)
            same_offset = all(torch.allclose(a[k].double(), b[k].double(), rtol=1e-6, atol=1e-6) for k in a)
            c = run_kernels(lib, x, f, params, T, C)
            deterministic = all(torch.equal(a[k], c[k]) for k in a)
            xi = x.clone()
            st = lib.post(xi, f, a["H_post"], a["H_res"], xi)
            torch.cuda.synchronize()
            inplace = st == 0 and torch.equal(xi, a["y"])
            name = f"{v['symbol']} layouts {str(dtype).replace('torch.', '')}"
            ok = same_offset and deterministic and inplace
            report(ok, name, json.dumps({"unaligned_equal": same_offset, "deterministic": deterministic, "in_place_post": inplace}))
            results.append({"variant": v["symbol"], "check": "layouts", "dtype": str(dtype), "ok": ok, "unaligned_equal": same_offset, "deterministic": deterministic, "in_place_post": inplace})
        checks = bad_input_checks(v, lib)
        ok = all(c["ok"] for c in checks)
        report(ok, f"{v['symbol']} bad inputs", json.dumps([c for c in checks if not c["ok"]]) if not ok else f"({len(checks)} status checks)")
        results.append({"variant": v["symbol"], "check": "bad_inputs", "ok": ok, "checks": checks})
    summary = {"device": props.name, "torch": torch.__version__, "cases": len(results), "failures": report.failures, "seconds": round(time.time() - t_start, 1)}
    with open(os.path.join(out_dir, "verify.json"), "w") as fh:
        json.dump({"summary": summary, "results": results}, fh, indent=1)
    print(f"{'ALL PASS' if report.failures == 0 else 'FAILURES'}: {summary}", flush=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
