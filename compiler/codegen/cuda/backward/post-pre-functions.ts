import { abiCallLines } from "./abi-call.js";
import type { TorchFunctionsOptions } from "./torch-functions.js";

/*
 * The Python of `<name>_torch.py` for mhc_<name>_post_pre (design.md 4.2 item 4: the post of
 * sublayer l with the pre of sublayer l + 1, one fused pass over the residual for bf16):
 * `_run_post_pre`, the kernel call, and `_PostPre`, its torch.autograd.Function, whose
 * backward is the pre backward of l + 1 followed by the post backward of l (the existing
 * entry points, the stats row written by the fused call itself). Each string is one line.
 */

export function postPreRunLines(options: TorchFunctionsOptions): string[] {
  const ps = options.parameters;
  return [
    "def _run_post_pre(lib, x, f, h_post, h_res, params, stats=True):",
    '    """Post of sublayer l on x [T, n, C], then the pre of sublayer l + 1 (params) on its output, one fused pass',
    '    where the library has it: (y, u, h_pre, h_post, h_res, stats) with the coefficients and stats of l + 1."""',
    "    T, n, C = x.shape",
    "    dev = x.device",
    "    y = torch.empty_like(x)",
    "    h_pre_next = torch.empty((T, n), dtype=torch.float32, device=dev)",
    "    h_post_next = torch.empty((T, n), dtype=torch.float32, device=dev)",
    "    h_res_next = torch.empty((T, n, n), dtype=torch.float32, device=dev)",
    "    u = torch.empty((T, C), dtype=x.dtype, device=dev)",
    ...(options.backward
      ? ["    st = torch.empty((T, STATS_WIDTH), dtype=torch.float32, device=dev) if stats and STATS_WIDTH > 1 else None"]
      : ["    st = None"]),
    "    if T == 0:",
    "        return y, u, h_pre_next, h_post_next, h_res_next, st",
    "    with _on(dev):",
    "        ws_bytes = lib.post_pre_workspace_size(T, C)",
    "        ws = _workspace(ws_bytes, dev)",
    ...abiCallLines(
      options.entryArgs,
      "post_pre",
      [
        "x=x.data_ptr()",
        "f=f.data_ptr()",
        "dtype=DTYPE_CODE[x.dtype]",
        "T=T",
        "C=C",
        "h_post=h_post.data_ptr()",
        "h_res=h_res.data_ptr()",
        ...ps.map((p, i) => `${p}=params[${i}].data_ptr()`),
        "y=y.data_ptr()",
        "h_pre_next=h_pre_next.data_ptr()",
        "h_post_next=h_post_next.data_ptr()",
        "h_res_next=h_res_next.data_ptr()",
        "u_next=u.data_ptr()",
        "stats_next=_opt(st)",
        "workspace=ws.data_ptr() if ws_bytes > 0 else None",
        "workspace_bytes=ws_bytes",
        "stream=_stream(dev)",
      ],
      "        ",
    ),
    "    return y, u, h_pre_next, h_post_next, h_res_next, st",
    "",
    "",
  ];
}

export function postPreFunctionLines(options: TorchFunctionsOptions): string[] {
  const L = [
    "class _PostPre(torch.autograd.Function):",
    '    """Post of sublayer l and pre of sublayer l + 1: (x, f, h_post, h_res) of l and the parameters of l + 1 ->',
    "    (y, u, h_pre, h_post, h_res) of l + 1. link joins the pre of l (its backward forms this post's dx); link_next",
    '    joins the post of l + 1 on y (its dx is added to the pre backward of l + 1 here)."""',
    "",
    "    @staticmethod",
    "    def forward(ctx, lib, link, link_next, x, f, h_post, h_res, *params):",
    "        # stats only where a backward can follow (something needs a gradient)",
    "        y, u, h_pre_next, h_post_next, h_res_next, stats = _run_post_pre(lib, x, f, h_post, h_res, params, any(ctx.needs_input_grad))",
  ];
  if (!options.backward) {
    L.push(
      "        return y, u, h_pre_next, h_post_next, h_res_next",
      "",
      "    @staticmethod",
      "    def backward(ctx, *grads):",
      '        raise NotImplementedError("this library has no backward kernels")',
      "",
      "",
    );
    return L;
  }
  L.push(
    "        ctx.lib = lib",
    "        ctx.link = link",
    "        ctx.link_next = link_next",
    "        ctx.set_materialize_grads(False)",
    "        ctx.save_for_backward(x, f, h_post, h_res, y, h_pre_next, stats, *params)",
    "        return y, u, h_pre_next, h_post_next, h_res_next",
    "",
    "    @staticmethod",
    "    @once_differentiable",
    "    def backward(ctx, dy, du, dh_pre, dh_post, dh_res):",
    "        x, f, h_post, h_res, y, h_pre_next, stats, *params = ctx.saved_tensors",
    "        # The pre of l + 1 first: the gradient of y is dy plus what the joined post of l + 1 left, plus the",
    "        # pre's own term, accumulated in place by its kernel (dx_in is ours: never autograd's dy itself).",
    "        dx_in, dy_next, h_res_next = ctx.link_next.take()",
    "        if dy is not None:",
    "            dy = dy.to(x.dtype)",
    "            dx_in = dy.contiguous().clone() if dx_in is None else dx_in.add_(dy)",
    "        gy, grads = _run_pre_backward(ctx.lib, y, params, stats, h_pre_next, du, _contiguous(dh_pre), _contiguous(dh_post), _contiguous(dh_res), dx_in, dy_next, h_res_next)",
    "        dx, df, dh_post_l, dh_res_l = _post_backward_linked(ctx.lib, ctx.link, x, f, h_post, h_res, gy)",
    "        return (None, None, None, dx, df, dh_post_l, dh_res_l, *grads)",
    "",
    "",
  );
  return L;
}

/** `Module.post_pre` (torch-binding.ts prints it inside the module class, 4-space indented). */
export function postPreMethodLines(): string[] {
  return [
    "    @_eager",
    "    def post_pre(self, x, f, state, next_module):",
    '        """Sublayer l\'s post and sublayer l + 1\'s pre in one call (design 4.2 item 4): (y, u_next, state_next), the',
    "        values of y = self.post(x, f, state); u_next, state_next = next_module.pre(y); the same bits, or, where the",
    "        library fuses the post with the next prenorm (a few tokens, the small-T prenorm; a bf16 residual with the",
    "        fused post + prenorm kernel on), y exactly and the rest up to fp32 reassociation of the prenorm's split-K sums.",
    '        next_module: a module of this binding with the same C (it may be self); differentiable like post and pre."""',
    "        lead = _check_residual_and_f(x, f, self.C)",
    "        if not isinstance(state, State):",
    '            raise ValueError("state must be the State returned by pre() or post_pre()")',
    "        if type(next_module) is not type(self) or next_module.C != self.C:",
    '            raise ValueError("next_module must be a module of this binding with the same C")',
    "        _check_state(state.h_post, state.h_res, lead, x.device)",
    "        params = next_module._params(x.device)",
    "        args = _flat(x, f, state, self.C)",
    "        if not torch.is_grad_enabled():  # no backward can follow: the kernels alone, outside autograd",
    "            y, u, h_pre, h_post, h_res, _ = _run_post_pre(self.lib, *args, params, stats=False)",
    "            return (y.view(x.shape), *_with_lead(lead, self.C, u, h_pre, h_post, h_res))",
    "        link = getattr(state.h_post, \"_mhc_link\", None)",
    "        link = link if link is not None and link.joins(x) else None",
    "        link_next = _Link(x)  # bound to y below",
    "        y, u, h_pre, h_post, h_res = _PostPre.apply(self.lib, link, link_next, *args, *params)",
    "        y = y.view(x.shape)",
    "        link_next.x = weakref.ref(y)",
    "        link_next.version = y._version",
    "        u, state_next = _with_lead(lead, self.C, u, h_pre, h_post, h_res)",
    "        state_next.h_post._mhc_link = link_next  # post(y, f, state_next) of the same y joins this pre",
    "        return y, u, state_next",
    "",
  ];
}
