import { isFloatDType, type DType } from "./dtype.js";
import { IrError, irAssert } from "./errors.js";
import type { Attrs } from "./node.js";
import type { InferContext, TensorType } from "./op-def.js";
import {
  broadcastShapes,
  canBroadcastTo,
  formatShape,
  isConcreteShape,
  negativeAxis,
  numel,
  positiveAxis,
  type Dim,
  type Shape,
} from "./shape.js";

// Shared shape and dtype rules of the op table. Each throws IrError with a message that
// names the offending shapes, because these messages are what a compiler engineer reads
// when a lowering builds a bad node.

function input(ctx: InferContext, i: number): TensorType {
  const t = ctx.inputs[i];
  irAssert(t !== undefined, `missing input ${i}`);
  return t;
}

function declaredShape(ctx: InferContext): Shape {
  irAssert(ctx.declared.shape !== undefined, "this op needs a declared result shape");
  return ctx.declared.shape;
}

function declaredDtype(ctx: InferContext): DType {
  irAssert(ctx.declared.dtype !== undefined, "this op needs a declared result dtype");
  return ctx.declared.dtype;
}

/** All inputs share one dtype, and (for arithmetic) it is a float type. */
export function commonDtype(inputs: readonly TensorType[], requireFloat: boolean): DType {
  const first = inputs[0];
  irAssert(first !== undefined, "no inputs");
  for (const t of inputs) {
    irAssert(t.dtype === first.dtype, () => `dtype mismatch: ${inputs.map((x) => x.dtype).join(" vs ")} (insert a cast)`);
  }
  irAssert(!requireFloat || isFloatDType(first.dtype), `expects a float dtype, got ${first.dtype}`);
  return first.dtype;
}

export function unaryFloat(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  return { shape: x.shape, dtype: commonDtype(ctx.inputs, true) };
}

export function binaryFloat(ctx: InferContext): TensorType {
  return { shape: broadcastShapes(input(ctx, 0).shape, input(ctx, 1).shape), dtype: commonDtype(ctx.inputs, true) };
}

export function comparison(ctx: InferContext): TensorType {
  const dtype = commonDtype(ctx.inputs, false);
  irAssert(dtype !== "bool", "comparisons take numbers, not bool");
  return { shape: broadcastShapes(input(ctx, 0).shape, input(ctx, 1).shape), dtype: "bool" };
}

export function where(ctx: InferContext): TensorType {
  const [cond, a, b] = [input(ctx, 0), input(ctx, 1), input(ctx, 2)];
  irAssert(cond.dtype === "bool", `where: condition must be bool, got ${cond.dtype}`);
  const dtype = commonDtype([a, b], false);
  return { shape: broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape), dtype };
}

/** Canonical axis list: counted from the end, sorted, no repeats, at least one. */
export function canonicalAxes(axes: readonly number[], rank: number): number[] {
  irAssert(axes.length > 0, "axes must not be empty");
  const normalised = axes.map((a) => negativeAxis(a, rank)).sort((a, b) => a - b);
  irAssert(new Set(normalised).size === normalised.length, `repeated axis in [${axes.join(", ")}]`);
  return normalised;
}

export function canonicalizeReduction(attrs: Attrs, inputs: readonly TensorType[]): Attrs {
  const axes = attrs["axes"];
  irAssert(Array.isArray(axes), "reduction needs an axes list");
  return { axes: canonicalAxes(axes as number[], inputs[0]?.shape.length ?? 0), keepdims: attrs["keepdims"] ?? false };
}

export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): Dim[] {
  const rank = shape.length;
  const reduced = new Set(axes.map((a) => positiveAxis(a, rank)));
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!reduced.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

export function reduction(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  const axes = canonicalAxes(ctx.attrs["axes"] as number[], x.shape.length);
  return { shape: reducedShape(x.shape, axes, ctx.attrs["keepdims"] === true), dtype: commonDtype(ctx.inputs, true) };
}

export function canonicalizeAxis(attrs: Attrs, inputs: readonly TensorType[]): Attrs {
  const axis = attrs["axis"];
  irAssert(typeof axis === "number", "needs an integer axis");
  return { ...attrs, axis: negativeAxis(axis, inputs[0]?.shape.length ?? 0) };
}

export function softmax(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  negativeAxis(ctx.attrs["axis"] as number, x.shape.length);
  return unaryFloat(ctx);
}

export function matmul(ctx: InferContext): TensorType {
  const [a, b] = [input(ctx, 0), input(ctx, 1)];
  irAssert(a.shape.length >= 2 && b.shape.length >= 2, () => `matmul needs rank >= 2 operands, got ${formatShape(a.shape)} @ ${formatShape(b.shape)}`);
  const [m, k1] = a.shape.slice(-2) as [Dim, Dim];
  const [k2, n] = b.shape.slice(-2) as [Dim, Dim];
  irAssert(k1 === k2, () => `matmul: inner dimensions differ in ${formatShape(a.shape)} @ ${formatShape(b.shape)}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { shape: [...batch, m, n], dtype: commonDtype(ctx.inputs, true) };
}

export function transpose(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  const perm = ctx.attrs["perm"] as readonly number[];
  const rank = x.shape.length;
  const valid = perm.length === rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
  irAssert(valid, () => `transpose: perm [${perm.join(", ")}] is not a permutation of rank ${rank}`);
  return { shape: perm.map((p) => x.shape[p] as Dim), dtype: x.dtype };
}

export function reshape(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  const shape = declaredShape(ctx);
  irAssert(numel(x.shape) === numel(shape), () => `reshape: cannot reshape ${formatShape(x.shape)} to ${formatShape(shape)} (element counts differ)`);
  return { shape, dtype: x.dtype };
}

export function broadcastTo(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  const shape = declaredShape(ctx);
  irAssert(canBroadcastTo(x.shape, shape), () => `broadcast_to: cannot broadcast ${formatShape(x.shape)} to ${formatShape(shape)}`);
  return { shape, dtype: x.dtype };
}

export function slice(ctx: InferContext): TensorType {
  const x = input(ctx, 0);
  const rank = x.shape.length;
  const axis = positiveAxis(ctx.attrs["axis"] as number, rank);
  const start = ctx.attrs["start"] as number;
  const end = ctx.attrs["end"] as number;
  const dim = x.shape[axis];
  irAssert(typeof dim === "number", () => `slice: axis ${axis - rank} of ${formatShape(x.shape)} must be concrete`);
  irAssert(0 <= start && start < end && end <= dim, () => `slice: [${start}, ${end}) is not a non-empty range within ${dim}`);
  const shape = [...x.shape];
  shape[axis] = end - start;
  return { shape, dtype: x.dtype };
}

export function concat(ctx: InferContext): TensorType {
  const first = input(ctx, 0);
  const rank = first.shape.length;
  const axis = positiveAxis(ctx.attrs["axis"] as number, rank);
  const dtype = commonDtype(ctx.inputs, false);
  let total = 0;
  for (const t of ctx.inputs) {
    const same = t.shape.length === rank && t.shape.every((d, i) => i === axis || d === first.shape[i]);
    irAssert(same, () => `concat: ${formatShape(t.shape)} does not match ${formatShape(first.shape)} outside axis ${axis - rank}`);
    const d = t.shape[axis];
    irAssert(typeof d === "number", () => `concat: axis ${axis - rank} of ${formatShape(t.shape)} must be concrete`);
    total += d;
  }
  const shape = [...first.shape];
  shape[axis] = total;
  return { shape, dtype };
}

export function cast(ctx: InferContext): TensorType {
  return { shape: input(ctx, 0).shape, dtype: declaredDtype(ctx) };
}

export function inputLeaf(ctx: InferContext): TensorType {
  const name = ctx.attrs["name"];
  irAssert(typeof name === "string" && name.length > 0, "input needs a non-empty name");
  return { shape: declaredShape(ctx), dtype: declaredDtype(ctx) };
}

export function canonicalizeConst(attrs: Attrs): Attrs {
  const value = attrs["value"];
  irAssert(Array.isArray(value), "const needs a value list");
  const values = value as readonly number[];
  // A tensor of one repeated value is stored as a splat so that `ones([n, n])` written
  // two ways is one node.
  const first = values[0];
  if (values.length > 1 && values.every((v) => Object.is(v, first))) return { value: [first as number] };
  return { value: [...values] };
}

export function constLeaf(ctx: InferContext): TensorType {
  const shape = declaredShape(ctx);
  irAssert(isConcreteShape(shape), () => `const: shape ${formatShape(shape)} must be concrete`);
  const count = numel(shape) as number;
  const length = (ctx.attrs["value"] as readonly number[]).length;
  irAssert(length === count || length === 1, () => `const: ${length} values for shape ${formatShape(shape)}`);
  return { shape, dtype: declaredDtype(ctx) };
}

export function eye(ctx: InferContext): TensorType {
  const shape = declaredShape(ctx);
  const ok = shape.length === 2 && typeof shape[0] === "number" && shape[0] === shape[1];
  if (!ok) throw new IrError(`eye: shape ${formatShape(shape)} must be a concrete square [k, k]`);
  return { shape, dtype: declaredDtype(ctx) };
}
