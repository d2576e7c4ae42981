import { IrError } from "./errors.js";

/** A dense row-major float64 tensor: the interpreter's value type (bools are 0/1). */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i] as number;
  }
  return strides;
}

export function makeTensor(shape: readonly number[], data: ArrayLike<number> | number): Tensor {
  const size = sizeOf(shape);
  const array = typeof data === "number" ? new Float64Array(size).fill(data) : Float64Array.from(data);
  if (array.length !== size) throw new IrError(`tensor of shape [${shape.join(", ")}] needs ${size} values, got ${array.length}`);
  return { shape: [...shape], data: array };
}

type Nested = number | readonly Nested[];

/** Tensor from nested arrays (`[[1, 2], [3, 4]]`); for tests and literals. */
export function fromNested(value: Nested): Tensor {
  const shape: number[] = [];
  for (let v: Nested = value; Array.isArray(v); v = (v as readonly Nested[])[0] as Nested) shape.push(v.length);
  const flat: number[] = [];
  const walk = (v: Nested): void => {
    if (typeof v === "number") flat.push(v);
    else v.forEach(walk);
  };
  walk(value);
  return makeTensor(shape, flat);
}

/** Nested arrays from a tensor (a scalar gives a number). */
export function toNested(t: Tensor): Nested {
  const build = (axis: number, offset: number): Nested => {
    if (axis === t.shape.length) return t.data[offset] as number;
    const stride = sizeOf(t.shape.slice(axis + 1));
    return Array.from({ length: t.shape[axis] as number }, (_, i) => build(axis + 1, offset + i * stride));
  };
  return build(0, 0);
}

/**
 * For each element of `outShape` (row-major), the flat offset of the element of a tensor
 * of `inShape` that numpy broadcasting reads there.
 */
export function broadcastOffsets(inShape: readonly number[], outShape: readonly number[]): Int32Array {
  const rank = outShape.length;
  const inStrides = stridesOf(inShape);
  const stride = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const o = rank - inShape.length + i;
    if (inShape[i] !== 1) stride[o] = inStrides[i] as number;
  }
  const size = sizeOf(outShape);
  const offsets = new Int32Array(size);
  if (rank === 0 || size === 0) return offsets;
  // Walk rows of the last axis; only the outer index needs the odometer.
  const inner = outShape[rank - 1] as number;
  const innerStride = stride[rank - 1] as number;
  const index = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let k = 0; k < size; k += inner) {
    for (let j = 0; j < inner; j++) offsets[k + j] = offset + j * innerStride;
    for (let a = rank - 2; a >= 0; a--) {
      index[a] = (index[a] as number) + 1;
      offset += stride[a] as number;
      if ((index[a] as number) < (outShape[a] as number)) break;
      offset -= (stride[a] as number) * (outShape[a] as number);
      index[a] = 0;
    }
  }
  return offsets;
}
