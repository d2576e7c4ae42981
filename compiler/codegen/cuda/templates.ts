import type { Node } from "../../ir/node.js";
import type { OpName } from "../../ir/op-names.js";
import { positiveAxis } from "../../ir/shape.js";
import { UNROLL_LIMIT } from "./knobs.js";

/*
 * The op table of the CUDA target: one template per IR op, turning a node whose
 * shapes are all concrete (a per-token constraint graph) into statements over small
 * local arrays. Every value is a row-major `float vN[numel]` (bools are 0/1, i32 values
 * are whole floats, as in the reference interpreter); loops are nested per axis and
 * fully unrolled when small, so nvcc keeps the arrays in registers. Divisions go through
 * mhc::fdiv (mhc_common.cuh: full-range, within 2 ulp, branch-free), or through mhc::rcp_normal
 * (one instruction, within 1 ulp) where the divisor is proven a normal float (ir/value-range.ts).
 * Sums start from -0.0f, the identity of IEEE addition (0.0f + -0.0f is +0.0f), so the compiler
 * drops the first addition instead of keeping it on the dependent chain.
 */

/** How a template reads an operand: `at(offsetExpr)` is the element expression. */
export interface Operand {
  readonly shape: readonly number[];
  /** The element at a flat row-major offset (an index expression). */
  at(offset: string): string;
}

export interface TemplateContext {
  readonly node: Node;
  readonly shape: readonly number[];
  /** The result array's name. */
  readonly out: string;
  readonly inputs: readonly Operand[];
  /** A float32 literal. */
  lit(value: number): string;
  /** Whether input j is proven a normal float wherever this node is evaluated (normal-divisors.ts); absent: never. */
  readonly normal?: (input: number) => boolean;
}

/** Statements (without indentation; `{`/`}` lines nest). */
export type Template = (ctx: TemplateContext) => string[];

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function strides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i] as number;
  }
  return out;
}

/** `i0 * 4 + i1`: the flat offset into `shape` read at the loop indices of `outShape` (numpy broadcasting, right-aligned). */
export function broadcastOffset(shape: readonly number[], outShape: readonly number[], vars: readonly string[]): string {
  const st = strides(shape);
  const terms: string[] = [];
  const shift = outShape.length - shape.length;
  shape.forEach((d, i) => {
    if (d === 1) return;
    const v = vars[i + shift] as string;
    const s = st[i] as number;
    if (v === "0") return;
    terms.push(s === 1 ? v : `${v} * ${s}`);
  });
  return terms.length === 0 ? "0" : terms.join(" + ");
}

/**
 * Nested loops over `shape` with variables `${prefix}0..`; `body` gets the variables.
 * An axis of size 1 gets no loop: its variable is the literal `0` (every offset goes
 * through broadcastOffset or a stride, so `0` is always a valid index there).
 */
export function loops(shape: readonly number[], prefix: string, work: number, body: (vars: string[]) => string[]): string[] {
  const vars = shape.map((d, i) => (d === 1 ? "0" : `${prefix}${i}`));
  let lines = body(vars);
  const pragma = work <= UNROLL_LIMIT ? ["#pragma unroll"] : ["#pragma unroll 1"];
  for (let a = shape.length - 1; a >= 0; a--) {
    if (shape[a] === 1) continue;
    const v = vars[a] as string;
    const header = `for (int ${v} = 0; ${v} < ${shape[a]}; ++${v})`;
    lines = lines.length === 1 ? [...pragma, `${header} ${lines[0]}`] : [...pragma, `${header} {`, ...lines, "}"];
  }
  return lines;
}

/** out[...] = expr(inputs at broadcast offsets), one flat loop when nothing broadcasts. */
function elementwise(expr: (args: string[], ctx: TemplateContext) => string): Template {
  return (ctx) => {
    const n = size(ctx.shape);
    const same = ctx.inputs.every((x) => size(x.shape) === n);
    if (same) {
      const body = (i: string): string => `${ctx.out}[${i}] = ${expr(ctx.inputs.map((x) => x.at(i)), ctx)};`;
      if (n === 1) return [body("0")];
      return [n <= UNROLL_LIMIT ? "#pragma unroll" : "#pragma unroll 1", `for (int i = 0; i < ${n}; ++i) ${body("i")}`];
    }
    return loops(ctx.shape, "i", n, (vars) => {
      const args = ctx.inputs.map((x) => x.at(broadcastOffset(x.shape, ctx.shape, vars)));
      return [`${ctx.out}[${broadcastOffset(ctx.shape, ctx.shape, vars)}] = ${expr(args, ctx)};`];
    });
  };
}

const unary = (f: (a: string) => string): Template => elementwise(([a]) => f(a as string));

/** 1 / x for input j of the node: one instruction where that input is proven normal, else the full-range division. */
const reciprocal = (ctx: TemplateContext, input: number, x: string): string => (ctx.normal?.(input) ? `mhc::rcp_normal(${x})` : `mhc::fdiv(1.0f, ${x})`);

/**
 * a / b. A divisor broadcast over several elements of the result (Sinkhorn's row and column
 * sums) is inverted once and multiplied: a * (1 / b), within 3 ulp of a / b (fdiv's 2 plus the
 * product's rounding) and the same at 0, infinities and NaN; only a subnormal divisor, whose
 * reciprocal overflows, differs. It turns the n^2 divisions of a normalisation into n. A divisor
 * proven normal is inverted by mhc::rcp_normal even where it is not broadcast.
 */
const divide: Template = (ctx) => {
  const [a, b] = ctx.inputs as [Operand, Operand];
  const n = size(ctx.shape);
  const nb = size(b.shape);
  if (nb >= n) return elementwise(([x, y]) => (ctx.normal?.(1) ? `${x} * mhc::rcp_normal(${y})` : `mhc::fdiv(${x}, ${y})`))(ctx);
  const own = (vars: readonly string[]): string => broadcastOffset(b.shape, b.shape, vars);
  return [
    "{",
    `float rb[${nb}];`,
    ...loops(b.shape, "k", nb, (vars) => [`rb[${own(vars)}] = ${reciprocal(ctx, 1, b.at(own(vars)))};`]),
    ...loops(ctx.shape, "i", n, (vars) => [`${ctx.out}[${broadcastOffset(ctx.shape, ctx.shape, vars)}] = ${a.at(broadcastOffset(a.shape, ctx.shape, vars))} * rb[${broadcastOffset(b.shape, ctx.shape, vars)}];`]),
    "}",
  ];
};
const binary = (f: (a: string, b: string) => string): Template => elementwise(([a, b]) => f(a as string, b as string));
const compare = (op: string): Template => binary((a, b) => `(${a} ${op} ${b} ? 1.0f : 0.0f)`);

type Reducer = "sum" | "mean" | "amax" | "amin" | "logsumexp";

/** Reductions over `axes` (keepdims or not): init, accumulate over every input element, finish. */
function reduction(kind: Reducer): Template {
  return (ctx) => {
    const x = ctx.inputs[0] as Operand;
    const rank = x.shape.length;
    const axes = new Set(((ctx.node.attrs["axes"] as number[]) ?? []).map((a) => positiveAxis(a, rank)));
    const kept = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const slots = size(kept);
    const count = size(x.shape) / slots;
    const slot = (vars: readonly string[]): string => broadcastOffset(kept, x.shape, vars);
    const out = ctx.out;
    const init = kind === "amax" || kind === "logsumexp" ? "-INFINITY" : kind === "amin" ? "INFINITY" : "-0.0f";
    const lines = loops([slots], "i", slots, ([i]) => [`${out}[${i}] = ${init};`]);
    const step = (vars: string[]): string[] => {
      const a = x.at(broadcastOffset(x.shape, x.shape, vars));
      const o = `${out}[${slot(vars)}]`;
      if (kind === "sum" || kind === "mean") return [`${o} += ${a};`];
      return [`${o} = mhc::${kind === "amin" ? "min" : "max"}_nan(${o}, ${a});`];
    };
    lines.push(...loops(x.shape, "r", size(x.shape), step));
    if (kind === "mean") lines.push(...loops([slots], "i", slots, ([i]) => [`${out}[${i}] = mhc::fdiv(${out}[${i}], ${ctx.lit(count)});`]));
    if (kind === "logsumexp") {
      // max-shifted: out = m + log(sum(exp(x - m))), m the max already in `out`.
      lines.push("{", `float s[${slots}];`, ...loops([slots], "i", slots, ([i]) => [`s[${i}] = -0.0f;`]));
      lines.push(...loops(x.shape, "r", size(x.shape), (vars) => [`s[${slot(vars)}] += expf(${x.at(broadcastOffset(x.shape, x.shape, vars))} - ${out}[${slot(vars)}]);`]));
      lines.push(...loops([slots], "i", slots, ([i]) => [`${out}[${i}] = mhc::lse_finish(${out}[${i}], s[${i}]);`]), "}");
    }
    return lines;
  };
}

/**
 * softmax along one axis, max-subtracted: m = max, e = exp(x - m), e * (1 / sum(e)). The sum holds
 * exp(0) = 1 and at most `extent` terms of at most 1, so it is normal for any input without NaN
 * (a NaN or infinite input gives NaN either way): its reciprocal is mhc::rcp_normal.
 */
const softmax: Template = (ctx) => {
  const x = ctx.inputs[0] as Operand;
  const axis = positiveAxis(ctx.node.attrs["axis"] as number, x.shape.length);
  const kept = x.shape.map((d, i) => (i === axis ? 1 : d));
  const slots = size(kept);
  const n = size(x.shape);
  const slot = (vars: readonly string[]): string => broadcastOffset(kept, x.shape, vars);
  const at = (vars: readonly string[]): string => broadcastOffset(x.shape, x.shape, vars);
  return [
    "{",
    `float m[${slots}], s[${slots}];`,
    ...loops([slots], "i", slots, ([i]) => [`m[${i}] = -INFINITY;`, `s[${i}] = -0.0f;`]),
    ...loops(x.shape, "r", n, (v) => [`m[${slot(v)}] = mhc::max_nan(m[${slot(v)}], ${x.at(at(v))});`]),
    ...loops(x.shape, "r", n, (v) => [`${ctx.out}[${at(v)}] = expf(${x.at(at(v))} - m[${slot(v)}]);`, `s[${slot(v)}] += ${ctx.out}[${at(v)}];`]),
    ...loops([slots], "i", slots, ([i]) => [`s[${i}] = mhc::rcp_normal(s[${i}]);`]),
    ...loops(x.shape, "r", n, (v) => [`${ctx.out}[${at(v)}] = ${ctx.out}[${at(v)}] * s[${slot(v)}];`]),
    "}",
  ];
};

/** [..., m, k] @ [..., k, n]: batch dims broadcast, fp32 accumulation in order of k. */
const matmul: Template = (ctx) => {
  const [a, b] = ctx.inputs as [Operand, Operand];
  const shape = ctx.shape;
  const rank = shape.length;
  const k = a.shape[a.shape.length - 1] as number;
  const batch = shape.slice(0, -2);
  return loops(shape, "i", Math.max(size(shape), size(a.shape), size(b.shape)), (vars) => {
    const bv = vars.slice(0, -2);
    const [i, j] = vars.slice(-2) as [string, string];
    const aOff = (p: string): string => broadcastOffset(a.shape, [...batch, shape[rank - 2] as number, k], [...bv, i, p]);
    const bOff = (p: string): string => broadcastOffset(b.shape, [...batch, k, shape[rank - 1] as number], [...bv, p, j]);
    const pragma = [size(shape), size(a.shape), size(b.shape)].every((e) => e <= UNROLL_LIMIT) ? ["#pragma unroll"] : ["#pragma unroll 1"];
    return [
      "float acc = -0.0f;",
      ...pragma,
      `for (int p = 0; p < ${k}; ++p) acc = fmaf(${a.at(aOff("p"))}, ${b.at(bOff("p"))}, acc);`,
      `${ctx.out}[${broadcastOffset(shape, shape, vars)}] = acc;`,
    ];
  });
};

const transpose: Template = (ctx) => {
  const x = ctx.inputs[0] as Operand;
  const perm = ctx.node.attrs["perm"] as number[];
  const st = strides(x.shape);
  return loops(ctx.shape, "i", size(ctx.shape), (vars) => {
    const terms = perm.map((p, a) => ((x.shape[p] as number) === 1 ? "" : `${vars[a]} * ${st[p]}`)).filter((t) => t !== "");
    const inOff = terms.length === 0 ? "0" : terms.join(" + ").replace(/ \* 1(?!\d)/g, "");
    return [`${ctx.out}[${broadcastOffset(ctx.shape, ctx.shape, vars)}] = ${x.at(inOff)};`];
  });
};

const broadcastTo: Template = (ctx) => {
  const x = ctx.inputs[0] as Operand;
  return loops(ctx.shape, "i", size(ctx.shape), (vars) => [`${ctx.out}[${broadcastOffset(ctx.shape, ctx.shape, vars)}] = ${x.at(broadcastOffset(x.shape, ctx.shape, vars))};`]);
};

const slice: Template = (ctx) => {
  const x = ctx.inputs[0] as Operand;
  const axis = positiveAxis(ctx.node.attrs["axis"] as number, x.shape.length);
  const start = ctx.node.attrs["start"] as number;
  const st = strides(x.shape);
  return loops(ctx.shape, "i", size(ctx.shape), (vars) => {
    const terms = vars.map((v, a) => `${a === axis && start !== 0 ? `(${v} + ${start})` : v} * ${st[a]}`).join(" + ").replace(/ \* 1(?!\d)/g, "");
    return [`${ctx.out}[${broadcastOffset(ctx.shape, ctx.shape, vars)}] = ${x.at(terms || "0")};`];
  });
};

const concat: Template = (ctx) => {
  const axis = positiveAxis(ctx.node.attrs["axis"] as number, ctx.shape.length);
  const st = strides(ctx.shape);
  const lines: string[] = [];
  let at = 0;
  for (const x of ctx.inputs) {
    const offset = at;
    lines.push(
      ...loops(x.shape, "i", size(x.shape), (vars) => {
        const outOff = vars.map((v, a) => `${a === axis && offset !== 0 ? `(${v} + ${offset})` : v} * ${st[a]}`).join(" + ").replace(/ \* 1(?!\d)/g, "");
        return [`${ctx.out}[${outOff || "0"}] = ${x.at(broadcastOffset(x.shape, x.shape, vars))};`];
      }),
    );
    at += x.shape[axis] as number;
  }
  return lines;
};

const eye: Template = (ctx) => loops(ctx.shape, "i", size(ctx.shape), ([i, j]) => [`${ctx.out}[${i} * ${ctx.shape[1]} + ${j}] = ${i} == ${j} ? 1.0f : 0.0f;`]);

const cast: Template = (ctx) => {
  switch (ctx.node.dtype) {
    case "bf16":
      return unary((a) => `mhc::round_bf16(${a})`)(ctx);
    case "i32":
      return unary((a) => `mhc::to_i32(${a})`)(ctx);
    case "bool":
      return unary((a) => `(${a} != 0.0f ? 1.0f : 0.0f)`)(ctx);
    default:
      return unary((a) => a)(ctx); // f32 and f64 both compute in fp32 on the device
  }
};

/**
 * The table. `input`, `const` and `reshape` have no statements: an input is a function
 * parameter, a splat constant is a literal and a table constant a global array, and a
 * reshape reads its operand's storage (same row-major elements).
 */
export const CUDA_TEMPLATES: Readonly<Record<Exclude<OpName, "input" | "const" | "reshape">, Template>> = {
  eye,
  neg: unary((a) => `-${a}`),
  exp: unary((a) => `expf(${a})`),
  log: unary((a) => `logf(${a})`),
  sigmoid: unary((a) => `mhc::sigmoid(${a})`),
  tanh: unary((a) => `tanhf(${a})`),
  abs: unary((a) => `fabsf(${a})`),
  sign: unary((a) => `mhc::sign(${a})`),
  sqrt: unary((a) => `sqrtf(${a})`),
  rsqrt: unary((a) => `rsqrtf(${a})`),
  square: unary((a) => `${a} * ${a}`),
  relu: unary((a) => `mhc::relu(${a})`),
  softplus: unary((a) => `mhc::softplus(${a})`),
  recip: (ctx) => unary((a) => reciprocal(ctx, 0, a))(ctx),
  add: binary((a, b) => `${a} + ${b}`),
  sub: binary((a, b) => `${a} - ${b}`),
  mul: binary((a, b) => `${a} * ${b}`),
  div: divide,
  max: binary((a, b) => `mhc::max_nan(${a}, ${b})`),
  min: binary((a, b) => `mhc::min_nan(${a}, ${b})`),
  pow: binary((a, b) => `powf(${a}, ${b})`),
  gt: compare(">"),
  ge: compare(">="),
  lt: compare("<"),
  le: compare("<="),
  eq: compare("=="),
  where: elementwise(([c, a, b]) => `(${c} != 0.0f ? ${a} : ${b})`),
  sum: reduction("sum"),
  mean: reduction("mean"),
  amax: reduction("amax"),
  amin: reduction("amin"),
  logsumexp: reduction("logsumexp"),
  softmax,
  matmul,
  transpose,
  broadcast_to: broadcastTo,
  slice,
  concat,
  cast,
};
