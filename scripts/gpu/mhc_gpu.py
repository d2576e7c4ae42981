"""Shared helpers of the GPU scripts: load a generated library through ctypes, call its
entry points with torch tensors, and interpret the sublayer IR (sublayer.json) in
float64 torch, which is the reference for every connection, user constraints included."""
import ctypes
import importlib.util
import json
import math
import os
import statistics
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.environ.get("MHC_GPU_GEN") or os.path.join(HERE, "generated")  # MHC_GPU_GEN: another generated tree (e.g. a baseline)

STATUS = {0: "MHC_OK", 1: "MHC_ERR_NULL_POINTER", 2: "MHC_ERR_BAD_SHAPE", 3: "MHC_ERR_BAD_DTYPE",
          4: "MHC_ERR_MISALIGNED", 5: "MHC_ERR_WORKSPACE_TOO_SMALL", 6: "MHC_ERR_CUDA", 7: "MHC_ERR_UNSUPPORTED"}
DTYPE_CODE = {torch.float32: 0, torch.bfloat16: 1}
CTYPES = {"const void*": ctypes.c_void_p, "void*": ctypes.c_void_p, "const float*": ctypes.c_void_p, "float*": ctypes.c_void_p,
          "int": ctypes.c_int, "int64_t": ctypes.c_int64, "size_t": ctypes.c_size_t, "size_t*": ctypes.POINTER(ctypes.c_size_t),
          "cudaStream_t": ctypes.c_void_p}


class Checks:
    """The PASS / FAIL lines of a GPU test script: `report(ok, name, detail)` prints one and counts the failures;
    `cases` keeps each check's name, outcome and detail."""

    def __init__(self):
        self.failures = 0
        self.cases = []

    def __call__(self, ok, name, detail=""):
        if not ok:
            self.failures += 1
        self.cases.append({"case": name, "ok": bool(ok), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'} {name} {detail}", flush=True)


def load_binding(symbol, path=None):
    """The generated PyTorch binding `<symbol>_torch.py` (default: in GEN) as a module registered in sys.modules under
    its name (torch.compile looks a function's module up by name), and its nn.Module class (the one whose stream
    count is the library's): (module, class)."""
    path = path or os.path.join(GEN, symbol, f"{symbol}_torch.py")
    name = f"{symbol}_torch"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and getattr(v, "n", None) == mod.N)
    return mod, cls


def bench_module(mod, cls, C, gen, device):
    """A binding module of width C as the benchmarks draw it: phi ~ N(0, 1 / (n C)), alpha 0.5, the biases as initialised."""
    m = cls(C, device=device)
    with torch.no_grad():
        for name in mod.PARAMETERS:
            p = getattr(m, name)
            if name.startswith("phi_"):
                p.copy_(torch.randn(p.shape, generator=gen, device=device) / math.sqrt(m.n * C))
            elif name == "alpha":
                p.fill_(0.5)
    return m


def variants():
    with open(os.path.join(GEN, "variants.json")) as f:
        return json.load(f)


def ptr(t):
    """Device pointer of a tensor, None stays NULL, ints are raw addresses."""
    if t is None:
        return None
    if isinstance(t, int):
        return t
    return t.data_ptr()


class Library:
    def __init__(self, symbol):
        self.symbol = symbol
        d = os.path.join(GEN, symbol)
        with open(os.path.join(d, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.lib = ctypes.CDLL(os.path.join(d, f"lib{symbol}.so"))
        self.eps = {}
        for ep in self.manifest["entryPoints"]:
            fn = getattr(self.lib, ep["name"])
            fn.restype = ctypes.c_int
            fn.argtypes = [CTYPES[a["ctype"]] for a in ep["args"]]
            self.eps[ep["name"].replace(f"mhc_{symbol}_", "")] = (fn, [a["name"] for a in ep["args"]])
        self.n = self.manifest["connection"]["n"]
        self.params = [p["name"] for p in self.manifest["parameters"]]

    def call(self, name, **kw):
        fn, names = self.eps[name]
        return fn(*[kw[a] for a in names])

    def workspace_size(self, T, C):
        out = ctypes.c_size_t(0)
        st = self.call("workspace_size", T=T, C=C, bytes=ctypes.byref(out))
        if st != 0:
            raise RuntimeError(f"workspace_size({T}, {C}) returned {STATUS.get(st, st)}")
        return out.value

    def pre(self, x, params, h_pre, h_post, h_res, u, workspace, workspace_bytes, T=None, C=None, dtype=None, stream=None):
        T = x.shape[0] if T is None else T
        C = x.shape[-1] if C is None else C
        dtype = DTYPE_CODE[x.dtype] if dtype is None else dtype
        stream = torch.cuda.current_stream().cuda_stream if stream is None else stream
        kw = {p: ptr(params[p]) for p in self.params}
        return self.call("pre", x=ptr(x), dtype=dtype, T=T, C=C, h_pre=ptr(h_pre), h_post=ptr(h_post), h_res=ptr(h_res), u=ptr(u),
                         workspace=ptr(workspace), workspace_bytes=workspace_bytes, stream=stream, **kw)

    def post(self, x, f, h_post, h_res, y, T=None, C=None, dtype=None, stream=None):
        T = x.shape[0] if T is None else T
        C = x.shape[-1] if C is None else C
        dtype = DTYPE_CODE[x.dtype] if dtype is None else dtype
        stream = torch.cuda.current_stream().cuda_stream if stream is None else stream
        return self.call("post", x=ptr(x), f=ptr(f), dtype=dtype, T=T, C=C, h_post=ptr(h_post), h_res=ptr(h_res), y=ptr(y), stream=stream)


# ---- the reference: the sublayer IR, interpreted in float64 ----

def _dim(d, b):
    if isinstance(d, int):
        return d
    v = 1
    for f in d.split("*"):
        f = f.strip()
        v *= int(f) if f.isdigit() else b[f]
    return v


def phi_rows(p, n, C):
    """Rows of a phi parameter from its manifest shape: n*C (projection flat) or C (per_stream)."""
    return _dim(p["shape"][0], {"C": C, "n": n})


_UNARY = {
    "neg": torch.neg, "exp": torch.exp, "log": torch.log, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "abs": torch.abs,
    "sign": torch.sign, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "square": torch.square, "relu": torch.relu,
    "softplus": lambda x: torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x))), "recip": torch.reciprocal,
}
_BINARY = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "max": torch.maximum, "min": torch.minimum, "pow": torch.pow,
    "gt": lambda a, b: (a > b).to(a.dtype), "ge": lambda a, b: (a >= b).to(a.dtype), "lt": lambda a, b: (a < b).to(a.dtype),
    "le": lambda a, b: (a <= b).to(a.dtype), "eq": lambda a, b: (a == b).to(a.dtype),
}


def load_graph(symbol):
    with open(os.path.join(GEN, symbol, "sublayer.json")) as f:
        return json.load(f)


def interpret(graph, inputs, bindings, device, dtype=torch.float64):
    """Values of the graph's outputs in `dtype` (float64: the reference; float32: the same maths evaluated in
    fp32, whose distance from float64 measures how much rounding the maths itself amplifies); `inputs` by name."""
    nodes = graph["nodes"]
    need = set()
    stack = list(graph["outputs"].values())
    while stack:
        i = stack.pop()
        if i in need:
            continue
        need.add(i)
        stack.extend(nodes[i]["inputs"])
    last_use = {}
    for node in nodes:
        if node["id"] in need:
            for i in node["inputs"]:
                last_use[i] = node["id"]
    keep = set(graph["outputs"].values())
    vals = {}
    like = dict(dtype=dtype, device=device)
    for node in nodes:
        nid = node["id"]
        if nid not in need:
            continue
        op, a = node["op"], node["attrs"]
        shape = [_dim(d, bindings) for d in node["shape"]]
        xs = [vals[i] for i in node["inputs"]]
        if op == "input":
            v = inputs[a["name"]].to(**like)
        elif op == "const":
            vv = a["value"]
            v = torch.full(shape, float(vv[0]), **like) if len(vv) == 1 else torch.tensor(vv, **like).reshape(shape)
        elif op == "eye":
            v = torch.eye(shape[0], **like)
        elif op in _UNARY:
            v = _UNARY[op](xs[0])
        elif op in _BINARY:
            v = _BINARY[op](xs[0], xs[1])
        elif op == "where":
            v = torch.where(xs[0] != 0, xs[1], xs[2])
        elif op in ("sum", "mean", "amax", "amin", "logsumexp"):
            axes = list(a.get("axes", []))
            kd = bool(a.get("keepdims", False))
            fn = {"sum": torch.sum, "mean": torch.mean, "amax": torch.amax, "amin": torch.amin, "logsumexp": torch.logsumexp}[op]
            v = fn(xs[0], dim=axes, keepdim=kd) if axes else xs[0].clone()
        elif op == "softmax":
            v = torch.softmax(xs[0], dim=a["axis"])
        elif op == "matmul":
            v = torch.matmul(xs[0], xs[1])
        elif op == "transpose":
            v = xs[0].permute(*a["perm"])
        elif op == "reshape":
            v = xs[0].reshape(shape)
        elif op == "broadcast_to":
            v = xs[0].expand(shape)
        elif op == "slice":
            v = xs[0].narrow(a["axis"], a["start"], a["end"] - a["start"])
        elif op == "concat":
            v = torch.cat(xs, dim=a["axis"])
        elif op == "cast":
            dt = node["dtype"]
            v = {"f64": lambda t: t, "f32": lambda t: t.float().to(dtype), "bf16": lambda t: t.bfloat16().to(dtype),
                 "i32": lambda t: torch.trunc(t), "bool": lambda t: (t != 0).to(dtype)}[dt](xs[0])
        else:
            raise ValueError(f"reference interpreter: unknown op {op}")
        vals[nid] = v
        for i in node["inputs"]:
            if last_use.get(i) == nid and i not in keep:
                vals.pop(i, None)
    return {name: vals[i] for name, i in graph["outputs"].items()}


def forward_set(v, T, C, gen, device):
    """One input set of the forward benchmarks for variant v (the prelude mhc's parameters: phi ~ N(0, 1 / (n C)),
    alpha 0.5, zero pre/post biases, the variant's initial res bias) and its output buffers: (x, params, bufs)."""
    n = v["n"]
    x = torch.randn(T, n, C, generator=gen, device=device).bfloat16()
    params = {
        "phi_pre": torch.randn(n * C, n, generator=gen, device=device) / math.sqrt(n * C),
        "phi_post": torch.randn(n * C, n, generator=gen, device=device) / math.sqrt(n * C),
        "phi_res": torch.randn(n * C, n * n, generator=gen, device=device) / math.sqrt(n * C),
        "alpha": torch.full((3,), 0.5, device=device),
        "bias_pre": torch.zeros(n, device=device),
        "bias_post": torch.zeros(n, device=device),
        "bias_res": torch.tensor(v["initialBias"]["res"], dtype=torch.float32, device=device),
    }
    bufs = {"h_pre": torch.empty(T, n, device=device), "h_post": torch.empty(T, n, device=device), "h_res": torch.empty(T, n, n, device=device),
            "u": torch.empty(T, C, device=device, dtype=torch.bfloat16), "y": torch.empty(T, n, C, device=device, dtype=torch.bfloat16)}
    return x, params, bufs


VERIFY_MAX_ELEMS = 300_000_000  # T * n * C above this is skipped (float64 reference memory)


def verify_shapes(v, quick=False, tiny=False, race=False):
    """The (T, C) pairs verify_forward.py and verify_backward.py check for variant v: the full grid where the
    variant asks for it, a quick one, or the few small shapes of the compute-sanitizer runs (race: racecheck's
    two). The small grids include 1100 tokens: at least 8 token tiles of the tensor-core GEMM, where phi is
    split once per call. Up to 48 tokens the prenorm runs the small-T kernel (16-token tiles): 1, 7, 17 (a
    second, partial tile), 33 and 48 take it, 49 and more the tiled kernels."""
    if race:
        Cs, Ts = [96], [7, 1100]
    elif tiny:
        Cs, Ts = [96, 100], [1, 7, 17, 33, 49, 1100]
    elif v["grid"] == "full" and not quick:
        Cs, Ts = [96, 100, 4096, 7168], [1, 7, 17, 48, 1023, 8192]
    else:
        Cs, Ts = [96, 100, 4096], [1, 7, 17, 48, 1023]
    return [(T, C) for C in Cs for T in Ts if T * v["n"] * C <= VERIFY_MAX_ELEMS]


def sinkhorn_ref(L, iters, eps):
    """design.md section 1, paper convention, float64 (the independent cross-check)."""
    M = torch.softmax(L, dim=-2) + eps
    M = M / (M.sum(-1, keepdim=True) + eps)
    for _ in range(iters - 1):
        M = M / (M.sum(-2, keepdim=True) + eps)
        M = M / (M.sum(-1, keepdim=True) + eps)
    return M


def mhc_ref(x, f, p, n, iters=20, eps=1e-6, norm_eps=1e-6):
    """Prelude `mhc` written out by hand from design.md section 1 (float64)."""
    T, C = x.shape[0], x.shape[-1]
    xf = x.reshape(T, n * C).double()
    r = torch.sqrt(xf.square().mean(-1, keepdim=True) + norm_eps)
    a = p["alpha"].double()
    lp = (xf @ p["phi_pre"].double()) / r * a[0] + p["bias_pre"].double()
    lq = (xf @ p["phi_post"].double()) / r * a[1] + p["bias_post"].double()
    lr = (xf @ p["phi_res"].double()) / r * a[2] + p["bias_res"].double()
    h_pre = torch.sigmoid(lp) + 1e-6
    h_post = 2.0 * torch.sigmoid(lq)
    h_res = sinkhorn_ref(lr.reshape(T, n, n), iters, eps)
    u = torch.einsum("ti,tic->tc", h_pre, x.double())
    y = torch.einsum("tji,tic->tjc", h_res, x.double()) + h_post[:, :, None] * f.double()[:, None, :]
    return {"y": y, "u": u, "H_pre": h_pre, "H_post": h_post, "H_res": h_res}


def event_times(fn, sets, iters, warmup=3):
    """Milliseconds of each of `iters` calls `fn(sets[i % len(sets)])`, every call between two CUDA
    events and waited for (host launch cost included), after `warmup` untimed calls."""
    for i in range(warmup):
        fn(sets[i % len(sets)])
    torch.cuda.synchronize()
    times = []
    for i in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(sets[i % len(sets)])
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return times


def captured(fn, sets, reps):
    """A CUDA graph of `reps` calls fn(sets[i % len(sets)]), after three warm-up calls on a side stream (as
    torch.cuda.graph wants; fn may run autograd's backward inside the capture)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for i in range(3):
            fn(sets[i % len(sets)])
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(reps):
            fn(sets[i % len(sets)])
    return g


def graph_timed(fn, sets, reps=None, replays=15):
    """Median device time per call of fn over the sets, reps calls captured in one CUDA graph (captured)."""
    reps = reps or max(len(sets), 8)
    g = captured(fn, sets, reps)
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(replays):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        g.replay()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) / reps)
    del g
    return statistics.median(times)


def kernel_breakdown(fn, sets, names, calls=10, warmup=3):
    """Device microseconds per call of each kernel `fn(sets[i])` launches (torch.profiler /
    CUPTI), grouped under the first of `names` a kernel's name contains, largest first."""
    from torch.profiler import ProfilerActivity, profile
    for i in range(warmup):
        fn(sets[i % len(sets)])
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(calls):
            fn(sets[i % len(sets)])
        torch.cuda.synchronize()
    out = {}
    for ev in prof.key_averages():
        total = getattr(ev, "device_time_total", None)
        if total is None:
            total = getattr(ev, "cuda_time_total", 0.0)
        if not total:
            continue
        name = next((k for k in names if k in ev.key), "other: " + ev.key[:60])
        out[name] = out.get(name, 0.0) + total / calls
    return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}
