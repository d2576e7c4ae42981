import { irAssert } from "./errors.js";
import type { Attrs } from "./node.js";
import type { OpName } from "./op-names.js";
import { BINARY_MATH, UNARY_MATH, roundTo, type BinaryMathOp, type UnaryMathOp } from "./scalar-math.js";
import { positiveAxis } from "./shape.js";
import { broadcastOffsets, sizeOf, stridesOf, type Tensor } from "./tensor.js";
import type { DType } from "./dtype.js";

/** What a kernel sees: its node's attrs and dtype, input values, the concrete result shape. */
export interface KernelArgs {
  readonly attrs: Attrs;
  readonly dtype: DType;
  readonly inputs: readonly Tensor[];
  readonly shape: readonly number[];
}

type Kernel = (args: KernelArgs) => Float64Array;

function arg(args: KernelArgs, i: number): Tensor {
  const t = args.inputs[i];
  irAssert(t !== undefined, `kernel input ${i} missing`);
  return t;
}

function unaryKernel(op: UnaryMathOp): Kernel {
  const f = UNARY_MATH[op];
  return (args) => arg(args, 0).data.map(f);
}

function binaryKernel(op: BinaryMathOp): Kernel {
  const f = BINARY_MATH[op];
  return (args) => {
    const [a, b] = [arg(args, 0), arg(args, 1)];
    const size = sizeOf(args.shape);
    if (a.data.length === size && b.data.length === size) return a.data.map((v, k) => f(v, b.data[k] as number));
    const ia = broadcastOffsets(a.shape, args.shape);
    const ib = broadcastOffsets(b.shape, args.shape);
    const out = new Float64Array(size);
    for (let k = 0; k < out.length; k++) out[k] = f(a.data[ia[k] as number] as number, b.data[ib[k] as number] as number);
    return out;
  };
}

/** For each input element, the flat index of the reduction slot it belongs to. */
function reductionSlots(shape: readonly number[], axes: readonly number[]): { slots: Int32Array; count: number; slotCount: number } {
  const reduced = new Set(axes.map((a) => positiveAxis(a, shape.length)));
  const keptShape = shape.map((d, i) => (reduced.has(i) ? 1 : d));
  // Broadcasting the kept shape back over the input maps each element to its slot.
  const slots = broadcastOffsets(keptShape, shape);
  const count = shape.reduce((acc, d, i) => (reduced.has(i) ? acc * d : acc), 1);
  return { slots, count, slotCount: sizeOf(keptShape) };
}

type Reducer = "sum" | "mean" | "amax" | "amin" | "logsumexp";

function reductionKernel(kind: Reducer): Kernel {
  return (args) => {
    const x = arg(args, 0);
    const { slots, count, slotCount } = reductionSlots(x.shape, args.attrs["axes"] as number[]);
    const init = kind === "amax" || kind === "logsumexp" ? -Infinity : kind === "amin" ? Infinity : 0;
    const acc = new Float64Array(slotCount).fill(init);
    for (let k = 0; k < x.data.length; k++) {
      const s = slots[k] as number;
      const v = x.data[k] as number;
      if (kind === "sum" || kind === "mean") acc[s] = (acc[s] as number) + v;
      else if (kind === "amin") acc[s] = Math.min(acc[s] as number, v);
      else acc[s] = Math.max(acc[s] as number, v);
    }
    if (kind === "mean") return acc.map((v) => v / count);
    if (kind !== "logsumexp") return acc;
    // log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the max, so no exp overflows;
    // an infinite max is the answer itself (avoids inf - inf).
    const sums = new Float64Array(slotCount);
    for (let k = 0; k < x.data.length; k++) {
      const s = slots[k] as number;
      sums[s] = (sums[s] as number) + Math.exp((x.data[k] as number) - (acc[s] as number));
    }
    return acc.map((m, s) => (Number.isFinite(m) ? m + Math.log(sums[s] as number) : m));
  };
}

/** Calls `lane(base, stride, length)` for every 1-D lane of `shape` along `axis`. */
function forEachLane(shape: readonly number[], axis: number, lane: (base: number, stride: number, length: number) => void): void {
  const a = positiveAxis(axis, shape.length);
  const length = shape[a] as number;
  const inner = sizeOf(shape.slice(a + 1));
  const outer = sizeOf(shape.slice(0, a));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) lane(o * length * inner + i, inner, length);
  }
}

const softmaxKernel: Kernel = (args) => {
  const x = arg(args, 0);
  const out = new Float64Array(x.data.length);
  forEachLane(x.shape, args.attrs["axis"] as number, (base, stride, length) => {
    // Subtracting the lane max keeps every exp in (0, 1]: no overflow for large logits.
    let m = -Infinity;
    for (let j = 0; j < length; j++) m = Math.max(m, x.data[base + j * stride] as number);
    let total = 0;
    for (let j = 0; j < length; j++) {
      const e = Math.exp((x.data[base + j * stride] as number) - m);
      out[base + j * stride] = e;
      total += e;
    }
    for (let j = 0; j < length; j++) out[base + j * stride] = (out[base + j * stride] as number) / total;
  });
  return out;
};

const matmulKernel: Kernel = (args) => {
  const [a, b] = [arg(args, 0), arg(args, 1)];
  const rank = args.shape.length;
  const [m, n] = [args.shape[rank - 2] as number, args.shape[rank - 1] as number];
  const k = a.shape[a.shape.length - 1] as number;
  const batch = args.shape.slice(0, -2);
  const aBatch = broadcastOffsets(a.shape.slice(0, -2), batch);
  const bBatch = broadcastOffsets(b.shape.slice(0, -2), batch);
  const out = new Float64Array(sizeOf(args.shape));
  for (let t = 0; t < aBatch.length; t++) {
    const ao = (aBatch[t] as number) * m * k;
    const bo = (bBatch[t] as number) * k * n;
    const oo = t * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (a.data[ao + i * k + p] as number) * (b.data[bo + p * n + j] as number);
        out[oo + i * n + j] = s;
      }
    }
  }
  return out;
};

const transposeKernel: Kernel = (args) => {
  const x = arg(args, 0);
  const perm = args.attrs["perm"] as number[];
  const inStrides = stridesOf(x.shape);
  // Strides of the input seen in output-axis order; broadcastOffsets-style walk.
  const permutedStrides = perm.map((p) => inStrides[p] as number);
  const out = new Float64Array(x.data.length);
  const index = new Array<number>(perm.length).fill(0);
  let offset = 0;
  for (let k = 0; k < out.length; k++) {
    out[k] = x.data[offset] as number;
    for (let a = perm.length - 1; a >= 0; a--) {
      index[a] = (index[a] as number) + 1;
      offset += permutedStrides[a] as number;
      if ((index[a] as number) < (args.shape[a] as number)) break;
      offset -= (permutedStrides[a] as number) * (args.shape[a] as number);
      index[a] = 0;
    }
  }
  return out;
};

const sliceKernel: Kernel = (args) => {
  const x = arg(args, 0);
  const axis = positiveAxis(args.attrs["axis"] as number, x.shape.length);
  const start = args.attrs["start"] as number;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const outer = sizeOf(x.shape.slice(0, axis));
  const inLen = x.shape[axis] as number;
  const outLen = args.shape[axis] as number;
  const out = new Float64Array(sizeOf(args.shape));
  for (let o = 0; o < outer; o++) {
    const src = x.data.subarray((o * inLen + start) * inner, (o * inLen + start + outLen) * inner);
    out.set(src, o * outLen * inner);
  }
  return out;
};

const concatKernel: Kernel = (args) => {
  const axis = positiveAxis(args.attrs["axis"] as number, args.shape.length);
  const inner = sizeOf(args.shape.slice(axis + 1));
  const outer = sizeOf(args.shape.slice(0, axis));
  const outLen = args.shape[axis] as number;
  const out = new Float64Array(sizeOf(args.shape));
  let at = 0;
  for (const x of args.inputs) {
    const len = x.shape[axis] as number;
    for (let o = 0; o < outer; o++) out.set(x.data.subarray(o * len * inner, (o + 1) * len * inner), (o * outLen + at) * inner);
    at += len;
  }
  return out;
};

const whereKernel: Kernel = (args) => {
  const [c, a, b] = [arg(args, 0), arg(args, 1), arg(args, 2)];
  const [ic, ia, ib] = [c, a, b].map((t) => broadcastOffsets(t.shape, args.shape)) as [Int32Array, Int32Array, Int32Array];
  const out = new Float64Array(ic.length);
  for (let k = 0; k < out.length; k++) {
    out[k] = (c.data[ic[k] as number] as number) !== 0 ? (a.data[ia[k] as number] as number) : (b.data[ib[k] as number] as number);
  }
  return out;
};

const constKernel: Kernel = (args) => {
  const value = args.attrs["value"] as number[];
  const size = sizeOf(args.shape);
  return value.length === 1 ? new Float64Array(size).fill(value[0] as number) : Float64Array.from(value);
};

const eyeKernel: Kernel = (args) => {
  const n = args.shape[0] as number;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
};

const broadcastKernel: Kernel = (args) => {
  const x = arg(args, 0);
  const offsets = broadcastOffsets(x.shape, args.shape);
  const out = new Float64Array(offsets.length);
  for (let k = 0; k < out.length; k++) out[k] = x.data[offsets[k] as number] as number;
  return out;
};

/** Reference semantics of every op except `input` (whose value comes from the caller). */
export const KERNELS: Readonly<Record<Exclude<OpName, "input">, Kernel>> = {
  const: constKernel,
  eye: eyeKernel,
  neg: unaryKernel("neg"),
  exp: unaryKernel("exp"),
  log: unaryKernel("log"),
  sigmoid: unaryKernel("sigmoid"),
  tanh: unaryKernel("tanh"),
  abs: unaryKernel("abs"),
  sign: unaryKernel("sign"),
  sqrt: unaryKernel("sqrt"),
  rsqrt: unaryKernel("rsqrt"),
  square: unaryKernel("square"),
  relu: unaryKernel("relu"),
  softplus: unaryKernel("softplus"),
  recip: unaryKernel("recip"),
  add: binaryKernel("add"),
  sub: binaryKernel("sub"),
  mul: binaryKernel("mul"),
  div: binaryKernel("div"),
  max: binaryKernel("max"),
  min: binaryKernel("min"),
  pow: binaryKernel("pow"),
  gt: binaryKernel("gt"),
  ge: binaryKernel("ge"),
  lt: binaryKernel("lt"),
  le: binaryKernel("le"),
  eq: binaryKernel("eq"),
  where: whereKernel,
  sum: reductionKernel("sum"),
  mean: reductionKernel("mean"),
  amax: reductionKernel("amax"),
  amin: reductionKernel("amin"),
  logsumexp: reductionKernel("logsumexp"),
  softmax: softmaxKernel,
  matmul: matmulKernel,
  transpose: transposeKernel,
  reshape: (args) => Float64Array.from(arg(args, 0).data),
  broadcast_to: broadcastKernel,
  slice: sliceKernel,
  concat: concatKernel,
  cast: (args) => arg(args, 0).data.map((v) => roundTo(args.dtype, v)),
};
