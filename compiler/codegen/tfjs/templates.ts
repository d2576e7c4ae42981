import type { DType } from "../../ir/dtype.js";
import { IrError } from "../../ir/errors.js";
import type { Node } from "../../ir/node.js";
import type { OpName } from "../../ir/op-names.js";
import { positiveAxis, type Dim, type Shape } from "../../ir/shape.js";

/**
 * The TensorFlow.js rendering of every IR op (design.md §3: codegen is table-driven):
 * one template per op, each an expression over the JavaScript names of the node's
 * inputs. Templates call only the `tf.*` functions they declare in `tf`, and those
 * must be on the vetted list (`vetted-ops.ts`; a test checks both).
 *
 * Where tfjs differs from the IR, the template bridges the gap:
 * - `tf.softmax` works only along the last axis: another axis is swapped to the end
 *   and back.
 * - `tf.matMul` broadcasts batch dimensions forward but its gradient does not sum them
 *   back, so operands with different batch shapes are made equal first (a rank-2 right
 *   operand by folding the left operand's batch into its rows, anything else with
 *   `tf.broadcastTo`, whose gradient reduces).
 * - Axes are written positive (ranks are static); symbolic dims become runtime
 *   expressions (`4 * C`) over names bound from the inputs' shapes.
 */
export interface TemplateContext {
  readonly node: Node;
  /** JavaScript expressions (variable names) of the node's inputs, in order. */
  readonly args: readonly string[];
  /** A shape as a JavaScript array literal, symbolic dims as runtime expressions. */
  shape(shape: Shape): string;
  /** The name of the hoisted data array of a non-splat `const` node. */
  constData(node: Node): string;
  /** Declares a module-level helper (once per module) and returns its name. */
  helper(name: string, declaration: string): string;
}

export interface OpTemplate {
  /** The `tf.*` functions this template may call. */
  readonly tf: readonly string[];
  readonly emit: (c: TemplateContext) => string;
}

/** tfjs has no float64 or bfloat16 tensors: generated code computes in float32. */
export function tfDtype(dtype: DType): string {
  switch (dtype) {
    case "f32":
      return "float32";
    case "i32":
      return "int32";
    case "bool":
      return "bool";
    case "f64":
    case "bf16":
      throw new IrError(`the tfjs target has no ${dtype} tensors; lower the graph with dtype f32`);
  }
}

/** A number as JavaScript source: shortest round trip, with -0, NaN and infinities. */
export function jsNumber(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (Object.is(x, -0)) return "-0";
  return String(x);
}

/** A dim as a JavaScript expression: `4`, `C`, `4 * C`. */
export function jsDim(dim: Dim): string {
  return typeof dim === "number" ? String(dim) : dim.split("*").join(" * ");
}

function arg(c: TemplateContext, i: number): string {
  const a = c.args[i];
  if (a === undefined) throw new IrError(`tfjs template for ${c.node.op}: missing input ${i}`);
  return a;
}

function rankOf(c: TemplateContext, i: number): number {
  const input = c.node.inputs[i];
  if (!input) throw new IrError(`tfjs template for ${c.node.op}: missing input ${i}`);
  return input.shape.length;
}

/** Positive axes of a reduction, one number when there is one axis: `2`, `[1, 2]`. */
function axesOf(c: TemplateContext): string {
  const rank = rankOf(c, 0);
  const axes = (c.node.attrs["axes"] as readonly number[]).map((a) => positiveAxis(a, rank));
  return axes.length === 1 ? String(axes[0]) : `[${axes.join(", ")}]`;
}

function unary(fn: string): OpTemplate {
  return { tf: [fn], emit: (c) => `tf.${fn}(${arg(c, 0)})` };
}

function binary(fn: string): OpTemplate {
  return { tf: [fn], emit: (c) => `tf.${fn}(${arg(c, 0)}, ${arg(c, 1)})` };
}

/**
 * The IR gives comparisons (and casts to i32/bool) a zero derivative; tfjs registers no
 * gradient for Greater, Less, LessEqual or Equal, so a comparison on a value that needs
 * a gradient would stop `tf.grad`. A module-level `tf.customGrad` wrapper says "zero".
 */
function zeroGradientHelper(c: TemplateContext, fn: string, arity: number, call: (args: string[]) => string): string {
  const params = ["a", "b"].slice(0, arity);
  const name = `${fn}NoGrad`;
  const declaration =
    `/** \`tf.${fn}\` with the IR's zero derivative (tfjs has no gradient for it). */\n` +
    `const ${name} = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {\n` +
    `  const [${params.join(", ")}] = args as tf.Tensor[];\n` +
    `  return { value: ${call(params)}, gradFunc: () => [${params.map((p) => `tf.zerosLike(${p} as tf.Tensor)`).join(", ")}] };\n` +
    `});`;
  return c.helper(name, declaration);
}

function compare(fn: string): OpTemplate {
  return {
    tf: ["customGrad", "zerosLike", fn],
    emit: (c) => `${zeroGradientHelper(c, fn, 2, ([a, b]) => `tf.${fn}(${a} as tf.Tensor, ${b} as tf.Tensor)`)}(${arg(c, 0)}, ${arg(c, 1)})`,
  };
}

function reduction(fn: string): OpTemplate {
  return { tf: [fn], emit: (c) => `tf.${fn}(${arg(c, 0)}, ${axesOf(c)}, ${c.node.attrs["keepdims"] === true})` };
}

/** A permutation that swaps `axis` with the last axis (its own inverse). */
function swapWithLast(axis: number, rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[axis] = rank - 1;
  perm[rank - 1] = axis;
  return perm;
}

const softmax: OpTemplate = {
  tf: ["softmax", "transpose"],
  emit: (c) => {
    const rank = rankOf(c, 0);
    const axis = positiveAxis(c.node.attrs["axis"] as number, rank);
    if (axis === rank - 1) return `tf.softmax(${arg(c, 0)})`;
    const perm = `[${swapWithLast(axis, rank).join(", ")}]`;
    return `tf.transpose(tf.softmax(tf.transpose(${arg(c, 0)}, ${perm})), ${perm})`;
  },
};

const matmul: OpTemplate = {
  tf: ["matMul", "reshape", "broadcastTo"],
  emit: (c) => {
    const [a, b] = c.node.inputs as [Node, Node];
    const [x, y] = [arg(c, 0), arg(c, 1)];
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const out = c.node.shape;
    const batch = out.slice(0, -2);
    const same = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i]);
    if (same) return `tf.matMul(${x}, ${y})`;
    if (batchB.length === 0) {
      // [...batch, m, k] @ [k, n]: one 2-D product over all rows, then the batch back.
      const k = a.shape[a.shape.length - 1] as Dim;
      return `tf.reshape(tf.matMul(tf.reshape(${x}, [-1, ${jsDim(k)}]), ${y}), ${c.shape(out)})`;
    }
    const full = (operand: Node, name: string, own: Shape) =>
      own.length === batch.length && own.every((d, i) => d === batch[i]) ? name : `tf.broadcastTo(${name}, ${c.shape([...batch, ...operand.shape.slice(-2)])})`;
    return `tf.matMul(${full(a, x, batchA)}, ${full(b, y, batchB)})`;
  },
};

const constant: OpTemplate = {
  tf: ["scalar", "fill", "tensor"],
  emit: (c) => {
    const value = c.node.attrs["value"] as readonly number[];
    const dtype = JSON.stringify(tfDtype(c.node.dtype));
    if (c.node.shape.length === 0) return `tf.scalar(${jsNumber(value[0] as number)}, ${dtype})`;
    if (value.length === 1) return `tf.fill(${c.shape(c.node.shape)}, ${jsNumber(value[0] as number)}, ${dtype})`;
    return `tf.tensor(${c.constData(c.node)}, ${c.shape(c.node.shape)}, ${dtype})`;
  },
};

const slice: OpTemplate = {
  tf: ["slice"],
  emit: (c) => {
    const rank = rankOf(c, 0);
    const axis = positiveAxis(c.node.attrs["axis"] as number, rank);
    const start = c.node.attrs["start"] as number;
    const end = c.node.attrs["end"] as number;
    const begin = Array.from({ length: rank }, (_, i) => (i === axis ? start : 0));
    const size = Array.from({ length: rank }, (_, i) => (i === axis ? end - start : -1));
    return `tf.slice(${arg(c, 0)}, [${begin.join(", ")}], [${size.join(", ")}])`;
  },
};

/** The template of every op but `input` (inputs are the function's arguments). */
export const TFJS_TEMPLATES: Readonly<Record<Exclude<OpName, "input">, OpTemplate>> = {
  const: constant,
  eye: {
    tf: ["eye"],
    emit: (c) => `tf.eye(${jsDim(c.node.shape[0] as Dim)}, ${jsDim(c.node.shape[1] as Dim)}, undefined, ${JSON.stringify(tfDtype(c.node.dtype))})`,
  },

  neg: unary("neg"),
  exp: unary("exp"),
  log: unary("log"),
  sigmoid: unary("sigmoid"),
  tanh: unary("tanh"),
  abs: unary("abs"),
  sign: unary("sign"),
  sqrt: unary("sqrt"),
  rsqrt: unary("rsqrt"),
  square: unary("square"),
  relu: unary("relu"),
  softplus: unary("softplus"),
  recip: unary("reciprocal"),

  add: binary("add"),
  sub: binary("sub"),
  mul: binary("mul"),
  div: binary("div"),
  max: binary("maximum"),
  min: binary("minimum"),
  pow: binary("pow"),

  gt: compare("greater"),
  ge: compare("greaterEqual"),
  lt: compare("less"),
  le: compare("lessEqual"),
  eq: compare("equal"),
  where: { tf: ["where"], emit: (c) => `tf.where(${arg(c, 0)}, ${arg(c, 1)}, ${arg(c, 2)})` },

  sum: reduction("sum"),
  mean: reduction("mean"),
  amax: reduction("max"),
  amin: reduction("min"),
  logsumexp: reduction("logSumExp"),

  softmax,
  matmul,

  transpose: { tf: ["transpose"], emit: (c) => `tf.transpose(${arg(c, 0)}, [${(c.node.attrs["perm"] as readonly number[]).join(", ")}])` },
  reshape: { tf: ["reshape"], emit: (c) => `tf.reshape(${arg(c, 0)}, ${c.shape(c.node.shape)})` },
  broadcast_to: { tf: ["broadcastTo"], emit: (c) => `tf.broadcastTo(${arg(c, 0)}, ${c.shape(c.node.shape)})` },
  slice,
  concat: {
    tf: ["concat"],
    emit: (c) => `tf.concat([${c.args.join(", ")}], ${positiveAxis(c.node.attrs["axis"] as number, c.node.shape.length)})`,
  },

  cast: {
    tf: ["cast", "customGrad", "zerosLike"],
    emit: (c) => {
      const dtype = JSON.stringify(tfDtype(c.node.dtype));
      // A cast to f32 passes the gradient through; to i32 or bool it has none (as in the IR).
      if (c.node.dtype === "f32") return `tf.cast(${arg(c, 0)}, ${dtype})`;
      const name = `cast${dtype === '"int32"' ? "Int32" : "Bool"}`;
      return `${zeroGradientHelper(c, name, 1, ([a]) => `tf.cast(${a} as tf.Tensor, ${dtype})`)}(${arg(c, 0)})`;
    },
  },
};
