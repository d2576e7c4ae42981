import type { Dim } from "../../ir/shape.js";
import { SLOTS } from "../../sema/checked.js";
import type { ConnectionPlan } from "./plan.js";
import { postPreEntryPoints } from "./post-prenorm.js";

/*
 * The C ABI of one connection's library, as data: the generated header, the entry
 * points' definitions and manifest.json are all printed from these tables, so they
 * cannot disagree.
 */

export type ArgRole = "input" | "output" | "scalar" | "workspace" | "stream";

export interface AbiArg {
  readonly name: string;
  readonly ctype: string;
  readonly role: ArgRole;
  /** `residual` (the dtype argument decides: f32 or bf16), `f32`, or the scalar's type. */
  readonly dtype?: string;
  readonly shape?: readonly Dim[];
  readonly doc: string;
}

export interface EntryPoint {
  readonly name: string;
  readonly doc: string;
  readonly args: readonly AbiArg[];
}

const x = (n: number): AbiArg => ({ name: "x", ctype: "const void*", role: "input", dtype: "residual", shape: ["T", n, "C"], doc: "the residual streams" });
const dtypeArg: AbiArg = { name: "dtype", ctype: "int", role: "scalar", dtype: "int32", doc: "MHC_DTYPE_F32 or MHC_DTYPE_BF16: the dtype of x, u, f and y" };
const tArg: AbiArg = { name: "T", ctype: "int64_t", role: "scalar", dtype: "int64", doc: "tokens (0 allowed: nothing to do)" };
const cArg: AbiArg = { name: "C", ctype: "int64_t", role: "scalar", dtype: "int64", doc: "hidden size (>= 1, any value)" };
const streamArg: AbiArg = { name: "stream", ctype: "cudaStream_t", role: "stream", doc: "the CUDA stream every kernel is launched on (0: the default stream)" };

/** An fp32 tensor argument: `const float*` as an input, `float*` as an output. */
export function f32Arg(name: string, shape: readonly Dim[], role: "input" | "output", doc: string): AbiArg {
  return { name, ctype: role === "input" ? "const float*" : "float*", role, dtype: "f32", shape, doc };
}

/** The connection's parameters as fp32 inputs, in the manifest's order. */
export function parameterArgs(plan: ConnectionPlan, doc: (name: string) => string): AbiArg[] {
  return plan.parameters.map((p) => f32Arg(p.name, p.shape, "input", doc(p.name)));
}

export function entryPoints(plan: ConnectionPlan): EntryPoint[] {
  const n = plan.n;
  const params = parameterArgs(plan, (name) =>
    name.startsWith("phi_") ? `projection, row-major ${plan.rows > 1 ? "[C, k/n] (per stream)" : "[n*C, k]"}` : name === "alpha" ? "gates [pre, post, res]" : "bias logits, row-major",
  );
  const coefShape: Record<string, readonly Dim[]> = { h_pre: ["T", n], h_post: ["T", n], h_res: ["T", n, n] };
  const hOut = (name: string): AbiArg => ({ name, ctype: "float*", role: "output", dtype: "f32", shape: coefShape[name] as Dim[], doc: name === "h_res" ? "H_res[t, out, in]" : `H_${name.slice(2)}[t, i]` });
  const hIn = (name: string): AbiArg => ({ ...hOut(name), ctype: "const float*", role: "input", doc: `as written by ${`mhc_${plan.symbol}_pre`}` });
  return [
    {
      name: `mhc_${plan.symbol}_workspace_size`,
      doc: "bytes of device workspace mhc_<name>_pre needs for (T, C); a pure function of (T, C) (not of the device or the dtype): S = prenorm_split(T, n*C, ...) split-K partials, bytes = align256(S*T*K*4) + align256(S*T*4), the larger over the prenorm kernels of the two dtypes, 0 when no map has a projection",
      args: [
        { ...tArg, doc: "tokens" },
        { ...cArg, doc: "hidden size" },
        { name: "bytes", ctype: "size_t*", role: "output", dtype: "size_t", doc: "host pointer receiving the size (0 when the connection has no projection)" },
      ],
    },
    {
      name: `mhc_${plan.symbol}_pre`,
      doc: "kernels 1-2: prenorm projection + sum of squares (split-K), then coefficients (norm, alpha, bias, the three constraints) and the pre-mix u",
      args: [
        x(n),
        dtypeArg,
        tArg,
        cArg,
        ...params,
        hOut("h_pre"),
        hOut("h_post"),
        hOut("h_res"),
        { name: "u", ctype: "void*", role: "output", dtype: "residual", shape: ["T", "C"], doc: "u[t] = sum_i H_pre[t, i] x[t, i, :], rounded to the residual dtype" },
        { name: "workspace", ctype: "void*", role: "workspace", doc: "device scratch, 16-byte aligned (NULL allowed when the size is 0)" },
        { name: "workspace_bytes", ctype: "size_t", role: "scalar", dtype: "size_t", doc: "its size in bytes" },
        streamArg,
      ],
    },
    {
      name: `mhc_${plan.symbol}_post`,
      doc: "kernel 3: y[t, j, :] = sum_i H_res[t, j, i] x[t, i, :] + H_post[t, j] f[t, :]; y may alias x",
      args: [
        x(n),
        { name: "f", ctype: "const void*", role: "input", dtype: "residual", shape: ["T", "C"], doc: "the sublayer output F(u)" },
        dtypeArg,
        tArg,
        cArg,
        hIn("h_post"),
        hIn("h_res"),
        { name: "y", ctype: "void*", role: "output", dtype: "residual", shape: ["T", n, "C"], doc: "the next residual (may be x itself)" },
        streamArg,
      ],
    },
    { name: `mhc_${plan.symbol}_last_cuda_error`, doc: "the cudaError_t behind the calling thread's last MHC_ERR_CUDA (0 if none)", args: [] },
    // Post of sublayer l with the pre of sublayer l + 1 (design 4.2 item 4; post-prenorm.ts).
    ...postPreEntryPoints(plan, { x: x(n), dtype: dtypeArg, T: tArg, C: cArg, stream: streamArg }),
  ];
}

/** `int name(type a, type b)` */
export function prototype(ep: EntryPoint): string {
  const args = ep.args.length === 0 ? "void" : ep.args.map((a) => `${a.ctype} ${a.name}`).join(", ");
  return `int ${ep.name}(${args})`;
}

/** The parameter names in pinned order, for the manifest. */
export function parameterNames(plan: ConnectionPlan): string[] {
  return plan.parameters.map((p) => p.name);
}

export { SLOTS };
