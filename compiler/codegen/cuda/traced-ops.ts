/*
 * The part of `<name>_torch.py` that lets torch.compile trace a connection at inference: `pre`
 * and `post` as torch.library operators (`mhc_<symbol>::pre`, `mhc_<symbol>::post`) with fake
 * implementations for their shapes, called by the module's methods when dynamo is tracing and
 * grad mode is off. A compiled model then has no graph break at its connections, and
 * `mode="reduce-overhead"` can capture a whole decode step, kernels included, in one CUDA graph.
 * With gradients the methods stay outside the trace (the autograd Functions pass the post's dx
 * to the pre's kernel through a Python object, which an operator's functional contract cannot
 * carry). Each string is one line of Python.
 */

export function tracedOpsLines(symbol: string, parameters: readonly string[]): string[] {
  const ns = `mhc_${symbol}`;
  // the parameters between x and `library` in each signature (none for a connection without parameters)
  const typed = parameters.map((p) => `${p}: torch.Tensor, `).join("");
  const plain = parameters.map((p) => `${p}, `).join("");
  const tuple = parameters.length === 0 ? "()" : `(${parameters.join(", ")}${parameters.length === 1 ? "," : ""})`;
  return [
    "# ---- Inference under torch.compile: pre and post as torch.library operators it can trace ----",
    "",
    "_LIBRARY_PATHS = []  # library paths (None: the default) by index: an operator takes its module's index, an int",
    "",
    "",
    "def _path_index(path):",
    "    if path not in _LIBRARY_PATHS:",
    "        _LIBRARY_PATHS.append(path)",
    "    return _LIBRARY_PATHS.index(path)",
    "",
    "",
    "def _define_ops():",
    `    """The operators ${ns}::pre and ${ns}::post, or None where this torch has no torch.library.custom_op or they`,
    '    are taken (another copy of this binding defined them in this process: its operators would read its own paths)."""',
    '    if not (hasattr(torch.library, "custom_op") and hasattr(getattr(torch, "compiler", None), "is_compiling")):',
    "        return None",
    `    if hasattr(getattr(torch.ops, ${JSON.stringify(ns)}), "pre"):`,
    "        return None",
    "",
    `    @torch.library.custom_op(${JSON.stringify(`${ns}::pre`)}, mutates_args=())`,
    `    def pre(x: torch.Tensor, ${typed}library: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:`,
    '        """pre of x [T, n, C] outside autograd: (u, h_pre, h_post, h_res); checks its inputs as the module does."""',
    "        C = x.shape[-1]",
    '        _check_residual("x", x, N, C)',
    `        params = ${tuple}`,
    "        _check_params(params, C, x.device)",
    "        u, h_pre, h_post, h_res, _ = _run_pre(load_library(_LIBRARY_PATHS[library]), x, params, stats=False)",
    "        return u, h_pre, h_post, h_res",
    "",
    "    @pre.register_fake",
    `    def _(x, ${plain}library):`,
    "        T, n, C = x.shape",
    "        f32 = dict(dtype=torch.float32)",
    "        return x.new_empty((T, C)), x.new_empty((T, n), **f32), x.new_empty((T, n), **f32), x.new_empty((T, n, n), **f32)",
    "",
    `    @torch.library.custom_op(${JSON.stringify(`${ns}::post`)}, mutates_args=())`,
    "    def post(x: torch.Tensor, f: torch.Tensor, h_post: torch.Tensor, h_res: torch.Tensor, library: int) -> torch.Tensor:",
    '        """post of x [T, n, C], f [T, C] and the coefficients outside autograd; checks its inputs as the module does."""',
    "        T, n, C = x.shape",
    "        _check_residual_and_f(x, f, C)",
    "        _check_state(h_post, h_res, (T,), x.device)",
    "        return _run_post(load_library(_LIBRARY_PATHS[library]), x, f, h_post, h_res)",
    "",
    "    @post.register_fake",
    "    def _(x, f, h_post, h_res, library):",
    "        return torch.empty_like(x)",
    "",
    "    return pre, post",
    "",
    "",
    "_OPS = _define_ops()",
    "",
    "",
    "def _traced():",
    '    """Whether a call goes through the operators: torch.compile is tracing it and no backward can follow."""',
    "    return _OPS is not None and torch.compiler.is_compiling() and not torch.is_grad_enabled()",
    "",
    "",
  ];
}
