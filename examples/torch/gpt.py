"""A small GPT whose residual connections are pluggable: the plain residual (x + F(x)),
or any connection compiled by `mhc compile --target cuda` and loaded through its
generated PyTorch binding (<name>_torch.py next to lib<name>.so).

With a binding of n streams the residual is [B, T, n, C]: the embedding is repeated into
the n streams (`expand repeat`), every sublayer (attention, MLP) is wrapped by its own
connection module, `conn(x, F)`, where F carries its own pre-norm, and the
streams are averaged before the final norm and the head (`collapse mean`).
"""
import importlib.util
import math
import os
import sys

import torch
import torch.nn.functional as F


def load_binding(directory, symbol):
    """The generated module `<symbol>_torch.py` from `directory` (its lib<symbol>.so beside it)."""
    path = os.path.join(directory, symbol, f"{symbol}_torch.py")
    spec = importlib.util.spec_from_file_location(f"{symbol}_torch", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # registered under its name: torch.compile looks a function's module up by name
    spec.loader.exec_module(mod)
    cls = next(v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and getattr(v, "n", None) == mod.N)
    return mod, cls


def repeat_streams(h, n):
    """[B, T, C] -> [B, T, n, C], n copies, written by one vectorised copy (torch.stack; a broadcast view's
    .contiguous() copies element by element)."""
    return torch.stack([h] * n, dim=-2)


class _ExpandRepeat(torch.autograd.Function):
    """expand repeat: the n streams start as copies of the embedding h, in the residual's dtype; the backward
    sums the streams' gradients in one reduction that accumulates in fp32 and writes h's dtype directly (stack's
    own backward adds n strided slices pairwise; a sum in the residual's dtype would be rounded, then converted)."""

    @staticmethod
    def forward(ctx, h, n, dtype):
        ctx.h_dtype = h.dtype
        return repeat_streams(h.to(dtype), n)

    @staticmethod
    def backward(ctx, g):
        return g.sum(-2, dtype=ctx.h_dtype), None, None


class _CollapseMean(torch.autograd.Function):
    """[B, T, n, C] -> [B, T, C] in fp32, the mean over the streams, reduced from the residual's dtype directly (no fp32
    copy of the whole residual); the backward forms g / n in fp32 on [B, T, C] and writes it into every stream once."""

    @staticmethod
    def forward(ctx, x):
        ctx.n, ctx.dtype = x.shape[-2], x.dtype
        return x.mean(-2, dtype=torch.float32)

    @staticmethod
    def backward(ctx, g):
        scaled = torch.empty(g.shape, dtype=ctx.dtype, device=g.device)
        torch.div(g, ctx.n, out=scaled)  # g / n in fp32, rounded once into the residual's dtype: one kernel
        return repeat_streams(scaled, ctx.n)


class RMSNorm(torch.nn.Module):
    """PyTorch's own RMSNorm (torch.nn.functional.rms_norm), the same module in every model. The fp32 weight is
    used in the input's dtype, as autocast uses a linear layer's weight: PyTorch runs its fused kernel only when
    the two agree (with a bf16 input and an fp32 weight it falls back to a chain of elementwise kernels)."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), self.eps)


class Attention(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm = RMSNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim, bias=False)
        self.out = torch.nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.norm(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(B, T, C))


class MLP(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.up = torch.nn.Linear(dim, hidden, bias=False)
        self.down = torch.nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.down(F.gelu(self.up(self.norm(x))))


class GPT(torch.nn.Module):
    """connection: None (plain residual) or the nn.Module class of a generated binding. low_precision_residual: the
    plain residual stream is kept in the autocast dtype, as the mHC streams are (otherwise it stays in fp32, the
    embedding's dtype, and only F runs in the autocast dtype). collapse: None, the streams' mean (`collapse mean`), or
    the nn.Module class of a binding whose pre map is the gate of `collapse gated` (connections.mhc's gated_head):
    its pre(x) is the gated sum of the streams."""

    def __init__(self, vocab, dim, heads, layers, context, connection=None, recompute=False, binding=None, low_precision_residual=False, collapse=None):
        super().__init__()
        self.low_precision_residual = low_precision_residual
        self.context = context
        self.embed = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(torch.randn(context, dim) * 0.02)
        self.sublayers = torch.nn.ModuleList()
        for _ in range(layers):
            self.sublayers.append(Attention(dim, heads))
            self.sublayers.append(MLP(dim, 4 * dim))
        self.n = 1 if connection is None else connection.n
        self.connections = None if connection is None else torch.nn.ModuleList(connection(dim) for _ in range(2 * layers))
        self.recompute = recompute
        # the binding's function, not its module: a module object cannot be deep-copied (copy.deepcopy(model))
        self.recompute_block = None if binding is None else binding.recompute_block
        self.collapse = None if collapse is None or connection is None else collapse(dim)
        self.norm = RMSNorm(dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        for name, p in self.named_parameters():
            if name.endswith(("out.weight", "down.weight")):
                torch.nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))
            elif p.dim() == 2 and "connections" not in name and name != "pos":
                torch.nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx):
        B, T = idx.shape
        h = self.embed(idx) + self.pos[:T]
        dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else h.dtype
        if self.connections is None:
            if self.low_precision_residual:
                h = h.to(dtype)
            for f in self.sublayers:
                h = h + f(h)
        else:
            # expand repeat: n copies of the embedding; the residual stays in the autocast dtype.
            x = _ExpandRepeat.apply(h, self.n, dtype)
            fns = [lambda u, f=f: f(u).to(u.dtype) for f in self.sublayers]
            if self.recompute:
                x = self.recompute_block(list(self.connections), fns, x)
            else:
                for conn, fn in zip(self.connections, fns):
                    x = conn(x, fn)  # through __call__: module hooks (e.g. FSDP gathering the parameters) run
            if self.collapse is None:
                h = _CollapseMean.apply(x)  # collapse mean
            else:
                h, _ = self.collapse.pre(x)  # collapse gated: sum_i H_pre[i] x_i, the gates read from all streams
        return self.head(self.norm(h))

    def loss(self, idx, targets):
        logits = self(idx)
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
