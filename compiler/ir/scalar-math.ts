import type { DType } from "./dtype.js";

// Scalar semantics of the elementwise ops, shared by the interpreter and constant
// folding. Written for stability rather than speed: these are the reference values
// the code generators are compared against.

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + e^x) without overflow for large x or loss of precision for very negative x. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

export const UNARY_MATH = {
  neg: (x: number) => -x,
  exp: Math.exp,
  log: Math.log,
  sigmoid,
  tanh: Math.tanh,
  abs: Math.abs,
  sign: Math.sign,
  sqrt: Math.sqrt,
  rsqrt: (x: number) => 1 / Math.sqrt(x),
  square: (x: number) => x * x,
  relu: (x: number) => (x > 0 ? x : Number.isNaN(x) ? x : 0),
  softplus,
  recip: (x: number) => 1 / x,
} as const satisfies Record<string, (x: number) => number>;

export const BINARY_MATH = {
  add: (a: number, b: number) => a + b,
  sub: (a: number, b: number) => a - b,
  mul: (a: number, b: number) => a * b,
  div: (a: number, b: number) => a / b,
  max: Math.max,
  min: Math.min,
  pow: Math.pow,
  gt: (a: number, b: number) => (a > b ? 1 : 0),
  ge: (a: number, b: number) => (a >= b ? 1 : 0),
  lt: (a: number, b: number) => (a < b ? 1 : 0),
  le: (a: number, b: number) => (a <= b ? 1 : 0),
  eq: (a: number, b: number) => (a === b ? 1 : 0),
} as const satisfies Record<string, (a: number, b: number) => number>;

export type UnaryMathOp = keyof typeof UNARY_MATH;
export type BinaryMathOp = keyof typeof BINARY_MATH;

const scratch = new DataView(new ArrayBuffer(4));

/** Round-to-nearest-even to bfloat16 (the top 16 bits of a float32), NaN kept. */
export function roundBf16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  scratch.setFloat32(0, x);
  const bits = scratch.getUint32(0);
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  scratch.setUint32(0, rounded >>> 0);
  return scratch.getFloat32(0);
}

/** The value `x` takes when stored as `dtype` (what `cast` does). */
export function roundTo(dtype: DType, x: number): number {
  switch (dtype) {
    case "f64":
      return x;
    case "f32":
      return Math.fround(x);
    case "bf16":
      return roundBf16(x);
    case "i32":
      // C-style conversion: truncate toward zero; NaN and out-of-range saturate.
      if (Number.isNaN(x)) return 0;
      return Math.max(-2147483648, Math.min(2147483647, Math.trunc(x)));
    case "bool":
      return x !== 0 ? 1 : 0;
  }
}
