/*
 * Host arrays in the layouts the ABI uses: fp32 (Float32Array) and bf16 (the
 * upper 16 bits of an fp32, rounded to nearest even, in a Uint16Array).
 */

export type ResidualDType = "f32" | "bf16";

/** Bytes per element of a residual dtype. */
export function elementBytes(dtype: ResidualDType): number {
  return dtype === "bf16" ? 2 : 4;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** bf16 bits of `value` (round to nearest, ties to even; NaN stays a quiet NaN). */
export function toBf16Bits(value: number): number {
  scratch[0] = value;
  const bits = scratchBits[0] as number;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) return ((bits >>> 16) | 0x0040) & 0xffff;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** The value of bf16 bits. */
export function fromBf16Bits(bits: number): number {
  scratchBits[0] = (bits & 0xffff) << 16;
  return scratch[0] as number;
}

/** Host data of `values` in `dtype`, ready to upload. */
export function encodeResidual(values: ArrayLike<number>, dtype: ResidualDType): Float32Array | Uint16Array {
  if (dtype === "f32") return Float32Array.from(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toBf16Bits(values[i] as number);
  return out;
}

/** float64 values of host data in `dtype` (what the device really holds). */
export function decodeResidual(data: Float32Array | Uint16Array): Float64Array {
  if (data instanceof Float32Array) return Float64Array.from(data);
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = fromBf16Bits(data[i] as number);
  return out;
}

/** An empty host array to download `count` elements of `dtype` into. */
export function hostArray(dtype: ResidualDType, count: number): Float32Array | Uint16Array {
  return dtype === "f32" ? new Float32Array(count) : new Uint16Array(count);
}
