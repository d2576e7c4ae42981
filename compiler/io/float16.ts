/**
 * IEEE 754 half precision (binary16, numpy's `<f2`, safetensors' `F16`) and
 * bfloat16 (safetensors' `BF16`) to and from JavaScript numbers.
 *
 * Encoding rounds the float64 value directly to the narrow format, to nearest
 * with ties to even (one rounding, as numpy's `astype(np.float16)` does; going
 * through float32 by plain rounding could round twice). Overflow gives an infinity of the
 * same sign, values below half the smallest subnormal give a signed zero, and
 * NaN gives the canonical quiet NaN (payloads are not kept). Decoding is exact.
 */

/** 0x7e00: the quiet NaN numpy writes for float16. */
const F16_NAN = 0x7e00;
/** 0x7fc0: the quiet NaN torch writes for bfloat16. */
const BF16_NAN = 0x7fc0;

/** A float64 value (of either sign) as the bits of a float16. */
export function f16FromNumber(value: number): number {
  return encodeNarrow(value, 5, 10, F16_NAN);
}

/** The value of the float16 with bits `bits` (the low 16 bits are used). */
export function f16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** A float64 value as the bits of a bfloat16 (the top half of a float32). */
export function bf16FromNumber(value: number): number {
  if (Number.isNaN(value)) return BF16_NAN;
  // Round to odd into float32 (the float32 toward zero, its last bit set when
  // inexact), then to nearest even on the 16 dropped bits: with 16 > 2 spare
  // bits this is exactly one rounding of the float64 (Boldo and Melquiond).
  scratch.setFloat32(0, value);
  let bits = scratch.getUint32(0);
  const single = scratch.getFloat32(0);
  if (single !== value) {
    if (Math.abs(single) > Math.abs(value)) bits -= 1;
    bits = (bits | 1) >>> 0;
  }
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

const scratch = new DataView(new ArrayBuffer(4));

/** The value of the bfloat16 with bits `bits` (the low 16 bits are used). */
export function bf16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 7) & 0xff;
  const mantissa = bits & 0x7f;
  if (exponent === 0) return sign * mantissa * 2 ** -133;
  if (exponent === 0xff) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 128) * 2 ** (exponent - 127);
}

/** The value a float64 has once stored as a float16 (rounded as `f16FromNumber` does). */
export function roundToF16(value: number): number {
  return f16ToNumber(f16FromNumber(value));
}

/** The value a float64 has once stored as a bfloat16. */
export function roundToBf16(value: number): number {
  return bf16ToNumber(bf16FromNumber(value));
}

/**
 * Rounds `value` to a binary format with `exponentBits` and `mantissaBits`
 * (gradual underflow, infinities) and returns its bits. All the scalings are
 * by powers of two within float64's normal range, so they are exact and the
 * only rounding is the explicit one.
 */
function encodeNarrow(value: number, exponentBits: number, mantissaBits: number, nan: number): number {
  const signBit = 1 << (exponentBits + mantissaBits);
  const infinity = ((1 << exponentBits) - 1) << mantissaBits;
  if (Number.isNaN(value)) return nan;
  const sign = value < 0 || Object.is(value, -0) ? signBit : 0;
  const magnitude = Math.abs(value);
  if (magnitude === Infinity) return sign | infinity;
  const bias = (1 << (exponentBits - 1)) - 1;
  const minNormalExponent = 1 - bias;
  const steps = 2 ** mantissaBits;
  let exponent = magnitude === 0 ? minNormalExponent - 1 : Math.floor(Math.log2(magnitude));
  // Math.log2 may be off by one near powers of two; correct it exactly.
  if (magnitude !== 0) {
    if (2 ** exponent > magnitude) exponent -= 1;
    else if (2 ** (exponent + 1) <= magnitude) exponent += 1;
  }
  if (exponent < minNormalExponent) {
    // Subnormal (or zero): multiples of 2^(minNormalExponent - mantissaBits). A
    // mantissa that rounds up to `steps` is the smallest normal number, whose
    // bits are exactly `steps`, so no special case is needed.
    const mantissa = roundHalfEven(magnitude * 2 ** (mantissaBits - minNormalExponent));
    return sign | mantissa;
  }
  if (exponent > bias) return sign | infinity;
  let mantissa = roundHalfEven((magnitude * 2 ** -exponent - 1) * steps);
  if (mantissa === steps) {
    mantissa = 0;
    exponent += 1;
    if (exponent > bias) return sign | infinity;
  }
  return sign | ((exponent + bias) << mantissaBits) | mantissa;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
