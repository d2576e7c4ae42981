import { describe, expect, it } from "vitest";
import { checkOutput } from "../../compiler/cli/commands/native/tolerance.js";
import { decodeResidual, encodeResidual, fromBf16Bits, toBf16Bits } from "../../runtime/native/host-data.js";

describe("verification tolerances (as scripts/gpu/verify_forward.py)", () => {
  const reference = [2, -1, 0.5, 0];

  it("passes fp32 outputs within 1e-5 of the largest reference value and fails beyond", () => {
    const inside = checkOutput("h_res", [2 + 1.9e-5, -1, 0.5, 0], reference, "fp32");
    expect([inside.ok, inside.maxAbs, inside.maxRel]).toEqual([true, expect.closeTo(1.9e-5, 12), expect.closeTo(0.95e-5, 12)]);
    const outside = checkOutput("h_res", [2, -1, 0.5, 2.1e-5], reference, "fp32");
    expect([outside.ok, outside.maxRel]).toEqual([false, expect.closeTo(1.05e-5, 12)]);
  });

  it("allows one bf16 rounding per element, plus 1e-5 of the scale", () => {
    // 2^-8 * 2 + 1e-5 * 2 = 0.00783 allowed at the first element; 0.01 is too much there.
    expect(checkOutput("y", [2.0078, -1, 0.5, 0], reference, "bf16")).toMatchObject({ ok: true, violations: 0 });
    expect(checkOutput("y", [2.01, -1, 0.5, 1e-4], reference, "bf16")).toMatchObject({ ok: false, violations: 2 });
  });

  it("fails non-finite outputs whatever their neighbours", () => {
    expect(checkOutput("u", [Number.NaN, -1, 0.5, 0], reference, "fp32")).toMatchObject({ ok: false, nonFinite: 1 });
    expect(checkOutput("u", [2, -1, Infinity, 0], reference, "bf16")).toMatchObject({ ok: false, nonFinite: 1 });
  });

  it("uses absolute errors when the reference is all zero", () => {
    expect(checkOutput("u", [0, 5e-6], [0, 0], "fp32")).toMatchObject({ ok: true, maxRel: 5e-6 });
  });
});

describe("host data in the ABI's element types", () => {
  it("rounds to bf16 to nearest, ties to even", () => {
    expect(toBf16Bits(1)).toBe(0x3f80);
    expect(fromBf16Bits(0x3f80)).toBe(1);
    // 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties to the even mantissa (1).
    expect(fromBf16Bits(toBf16Bits(1 + 2 ** -8))).toBe(1);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
    expect(fromBf16Bits(toBf16Bits(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(fromBf16Bits(toBf16Bits(1 + 2 ** -8 + 2 ** -20))).toBe(1 + 2 ** -7);
    expect(fromBf16Bits(toBf16Bits(-3.140625))).toBe(-3.140625);
    expect(Number.isNaN(fromBf16Bits(toBf16Bits(Number.NaN)))).toBe(true);
    expect(fromBf16Bits(toBf16Bits(Infinity))).toBe(Infinity);
    expect(fromBf16Bits(toBf16Bits(3.4e38))).toBe(Infinity);
  });

  it("decodes exactly what it encoded", () => {
    const values = [0.1, -2.5, 1e-3, 65504, -0];
    expect([...decodeResidual(encodeResidual(values, "f32"))]).toEqual(values.map(Math.fround));
    const bf16 = decodeResidual(encodeResidual(values, "bf16"));
    expect([...decodeResidual(encodeResidual(bf16, "bf16"))]).toEqual([...bf16]);
    expect(bf16[1]).toBe(-2.5);
  });
});
