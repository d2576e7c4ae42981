import type { Dim } from "../../../ir/shape.js";
import { f32Arg, parameterArgs, type AbiArg, type EntryPoint } from "../abi.js";
import type { ConnectionPlan } from "../plan.js";

/*
 * The backward half of a connection's C ABI, as data (like ../abi.ts for the forward):
 * the header, the entry-point definitions, manifest.json's `backward` section and the
 * PyTorch binding are all printed from these tables.
 */

const dtypeArg: AbiArg = { name: "dtype", ctype: "int", role: "scalar", dtype: "int32", doc: "MHC_DTYPE_F32 or MHC_DTYPE_BF16: the dtype of x and of every residual-shaped gradient" };
const tArg: AbiArg = { name: "T", ctype: "int64_t", role: "scalar", dtype: "int64", doc: "tokens (0 allowed)" };
const cArg: AbiArg = { name: "C", ctype: "int64_t", role: "scalar", dtype: "int64", doc: "hidden size (>= 1)" };
const streamArg: AbiArg = { name: "stream", ctype: "cudaStream_t", role: "stream", doc: "the CUDA stream every kernel is launched on (0: the default stream)" };
const workspaceArgs: AbiArg[] = [
  { name: "workspace", ctype: "void*", role: "workspace", doc: "device scratch of mhc_<name>_backward_workspace_size(T, C) bytes, 16-byte aligned" },
  { name: "workspace_bytes", ctype: "size_t", role: "scalar", dtype: "size_t", doc: "its size in bytes" },
];

/**
 * Columns of the stats row: the K prenorm projections, then the sum of squares, for each of
 * the token's prenorm rows (one for a flat projection, n for per-stream: [n, K + 1] row-major).
 */
export function statsWidth(plan: ConnectionPlan): number {
  return plan.rows * (plan.k + 1);
}

export function backwardEntryPoints(plan: ConnectionPlan): EntryPoint[] {
  const n = plan.n;
  const sym = plan.symbol;
  const residual = (name: string, shape: readonly (number | string)[], doc: string, role: "input" | "output"): AbiArg => ({
    name,
    ctype: role === "input" ? "const void*" : "void*",
    role,
    dtype: "residual",
    shape,
    doc,
  });
  const f32 = (name: string, shape: readonly Dim[], doc: string, role: "input" | "output"): AbiArg => f32Arg(name, shape, role, doc);
  const params = parameterArgs(plan, () => "the forward's parameter");
  const grads: AbiArg[] = plan.parameters.map((p) => f32(`grad_${p.name}`, p.shape, `d loss / d ${p.name} (overwritten; summed over the tokens in a fixed order)`, "output"));
  const stats = statsWidth(plan);
  return [
    {
      name: `mhc_${sym}_save_stats`,
      doc: `after mhc_${sym}_pre with the same workspace: the split-K sums the backward needs, stats[t] = [proj[t, 0..K), sum of squares]; nothing to do when K = 0 (stats may be NULL)`,
      args: [
        { ...dtypeArg, doc: "the dtype of the x mhc_<name>_pre read (it chooses the split-K plan)" },
        tArg,
        cArg,
        { name: "pre_workspace", ctype: "const void*", role: "input", doc: `the workspace mhc_${sym}_pre just used` },
        { name: "pre_workspace_bytes", ctype: "size_t", role: "scalar", dtype: "size_t", doc: "its size in bytes" },
        f32("stats", ["T", stats], "per-token projections and sum of squares", "output"),
        streamArg,
      ],
    },
    {
      name: `mhc_${sym}_backward_workspace_size`,
      doc: "bytes of device workspace mhc_<name>_post_backward and mhc_<name>_pre_backward need for (T, C); a pure function of (T, C)",
      args: [
        { ...tArg, doc: "tokens" },
        { ...cArg, doc: "hidden size" },
        { name: "bytes", ctype: "size_t*", role: "output", dtype: "size_t", doc: "host pointer receiving the size" },
      ],
    },
    {
      name: `mhc_${sym}_post_backward`,
      doc: "backward of mhc_<name>_post: dx = H_res^T dy, df = sum_j H_post[j] dy[j], dH_res[t, j, i] = <dy[t, j], x[t, i]>, dH_post[t, j] = <dy[t, j], f[t]>",
      args: [
        residual("x", ["T", n, "C"], "the residual the forward read", "input"),
        residual("f", ["T", "C"], "the sublayer output the forward read", "input"),
        dtypeArg,
        tArg,
        cArg,
        f32("h_post", ["T", n], "as written by the forward", "input"),
        f32("h_res", ["T", n, n], "as written by the forward (H_res[t, out, in])", "input"),
        residual("dy", ["T", n, "C"], "d loss / d y", "input"),
        residual("dx", ["T", n, "C"], "d loss / d x through the post mix (overwritten); NULL: not formed, pass dy and h_res to mhc_<name>_pre_backward instead (one residual-sized write and read less)", "output"),
        residual("df", ["T", "C"], "d loss / d f (overwritten)", "output"),
        f32("dh_post", ["T", n], "d loss / d H_post (overwritten)", "output"),
        f32("dh_res", ["T", n, n], "d loss / d H_res (overwritten)", "output"),
        ...workspaceArgs,
        streamArg,
      ],
    },
    {
      name: `mhc_${sym}_pre_backward`,
      doc: "backward of mhc_<name>_pre: the premix, the coefficients (the constraints' reverse mode, forward recomputed per token) and the prenorm GEMM; dx and every parameter gradient",
      args: [
        residual("x", ["T", n, "C"], "the residual the forward read", "input"),
        dtypeArg,
        tArg,
        cArg,
        ...params,
        f32("stats", ["T", stats], `as written by mhc_${sym}_save_stats (NULL allowed when K = 0)`, "input"),
        f32("h_pre", ["T", n], "as written by the forward", "input"),
        residual("du", ["T", "C"], "d loss / d u", "input"),
        f32("dh_pre", ["T", n], "d loss / d H_pre from outside the premix (NULL: zero)", "input"),
        f32("dh_post", ["T", n], "d loss / d H_post, e.g. from mhc_<name>_post_backward (NULL: zero)", "input"),
        f32("dh_res", ["T", n, n], "d loss / d H_res, e.g. from mhc_<name>_post_backward (NULL: zero)", "input"),
        residual("dx_in", ["T", n, "C"], "added to dx, e.g. mhc_<name>_post_backward's dx (NULL: nothing; may be dx itself: accumulate in place)", "input"),
        residual("dy", ["T", n, "C"], "d loss / d y of the post that read this x, when mhc_<name>_post_backward ran with dx = NULL: H_res^T dy is added to dx here (NULL: nothing; not dx itself)", "input"),
        f32("h_res", ["T", n, n], "H_res of that post, as written by the forward (NULL when dy is NULL)", "input"),
        residual("dx", ["T", n, "C"], "dx_in + H_res^T dy + d loss / d x through the norm, the projections and the premix (overwritten)", "output"),
        ...grads,
        ...workspaceArgs,
        streamArg,
      ],
    },
  ];
}
