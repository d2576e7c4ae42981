import { describe, expect, it } from "vitest";
import { bf16FromNumber, bf16ToNumber, f16FromNumber, f16ToNumber } from "../../compiler/io/float16.js";

/** bfloat16 from a float32 by the usual bit trick (round to nearest even on the dropped 16 bits). */
function bf16ViaFloat32(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const bits = view.getUint32(0);
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

describe("float16", () => {
  it("decodes every bit pattern and encodes it back unchanged (NaNs to the quiet NaN)", () => {
    const wrong: string[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const isNaN = (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;
      const back = f16FromNumber(f16ToNumber(bits));
      if (back !== (isNaN ? 0x7e00 : bits)) wrong.push(`${bits.toString(16)} -> ${back.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("rounds to nearest, ties to even, with gradual underflow and overflow to infinity", () => {
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0x7bff)).toBe(65504);
    expect(f16ToNumber(0x0001)).toBe(2 ** -24);
    expect(f16FromNumber(1 + 2 ** -11)).toBe(0x3c00); // tie: to even
    expect(f16FromNumber(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: to even (up)
    expect(f16FromNumber(1 + 2 ** -11 + 2 ** -30)).toBe(0x3c01); // just above the tie
    expect(f16FromNumber(65519.99)).toBe(0x7bff);
    expect(f16FromNumber(65520)).toBe(0x7c00);
    expect(f16FromNumber(-1e10)).toBe(0xfc00);
    expect(f16FromNumber(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: to even
    expect(f16FromNumber(2 ** -25 + 2 ** -40)).toBe(1);
    expect(f16FromNumber(2 ** -14 - 2 ** -26)).toBe(0x0400); // rounds up into the normals
    expect(f16FromNumber(-0)).toBe(0x8000);
    expect(f16FromNumber(-1e-30)).toBe(0x8000);
    expect(f16FromNumber(NaN)).toBe(0x7e00);
    expect(f16FromNumber(-Infinity)).toBe(0xfc00);
  });
});

describe("bfloat16", () => {
  it("decodes every bit pattern and encodes it back unchanged (NaNs to the quiet NaN)", () => {
    const wrong: string[] = [];
    for (let bits = 0; bits < 0x10000; bits++) {
      const isNaN = (bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0;
      const back = bf16FromNumber(bf16ToNumber(bits));
      if (back !== (isNaN ? 0x7fc0 : bits)) wrong.push(`${bits.toString(16)} -> ${back.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("is the top half of the float32 with the same value", () => {
    const view = new DataView(new ArrayBuffer(4));
    for (const bits of [0x3f800000, 0xc0490fdb, 0x00010000, 0x7f7fffff, 0x80800000]) {
      view.setUint32(0, (bits & 0xffff0000) >>> 0);
      expect(bf16ToNumber(bits >>> 16)).toBe(view.getFloat32(0));
    }
  });

  it("rounds float32 values exactly as the bit trick does", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const view = new DataView(new ArrayBuffer(4));
    const wrong: number[] = [];
    for (let i = 0; i < 20000; i++) {
      view.setUint32(0, Math.floor(random() * 2 ** 32));
      const value = view.getFloat32(0);
      if (!Number.isNaN(value) && bf16FromNumber(value) !== bf16ViaFloat32(value)) wrong.push(value);
    }
    expect(wrong).toEqual([]);
    for (const value of [1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, -3.4e38, 1e-40, 2 ** -134, 2 ** -133]) {
      expect(bf16FromNumber(value), String(value)).toBe(bf16ViaFloat32(value));
    }
  });

  it("rounds random float64 values to the nearest bfloat16, ties to even", () => {
    let seed = 99;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const wrong: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const value = (random() - 0.5) * 2 ** Math.floor(random() * 278 - 150); // below the overflow threshold
      const bits = bf16FromNumber(value);
      const got = bf16ToNumber(bits);
      // Neighbours of the result, in magnitude (bits +-1 within the same sign).
      const neighbours = [bits - 1, bits + 1].filter((b) => (b & 0x7fff) !== 0x7fff && b >= 0 && (b & 0x8000) === (bits & 0x8000)).map(bf16ToNumber);
      const error = Math.abs(value - got);
      for (const other of neighbours) {
        const otherError = Math.abs(value - other);
        if (otherError < error || (otherError === error && (bits & 1) === 1)) wrong.push(value);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("rounds float64 values once (not through float32)", () => {
    // 1 + 2^-8 + 2^-40 is above the bfloat16 tie, but rounds to the tie 1 + 2^-8 as a float32.
    expect(bf16FromNumber(1 + 2 ** -8 + 2 ** -40)).toBe(0x3f81);
    expect(bf16FromNumber(1e300)).toBe(0x7f80);
    expect(bf16FromNumber(-1e300)).toBe(0xff80);
    expect(bf16FromNumber(1 + 2 ** -8)).toBe(0x3f80); // an exact tie: to even
    expect(bf16FromNumber(1e-50)).toBe(0);
    expect(bf16FromNumber(-0)).toBe(0x8000);
    expect(bf16FromNumber(NaN)).toBe(0x7fc0);
  });
});
