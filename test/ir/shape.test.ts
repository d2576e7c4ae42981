import { describe, expect, it } from "vitest";
import { IrError } from "../../compiler/ir/errors.js";
import { bindShape, broadcastShapes, canBroadcastTo, canonicalDim, evalDim, mulDims, negativeAxis, numel } from "../../compiler/ir/shape.js";

describe("symbolic dimensions", () => {
  it("are canonical monomials", () => {
    expect(canonicalDim("C*4")).toBe("4*C");
    expect(canonicalDim("T*C")).toBe("C*T");
    expect(canonicalDim("1*T")).toBe("T");
    expect(canonicalDim("0*T")).toBe(0);
    expect(mulDims(4, "C")).toBe("4*C");
    expect(mulDims("2*C", "3*T")).toBe("6*C*T");
    expect(numel(["T", 4, "C"])).toBe("4*C*T");
    expect(numel([2, 3])).toBe(6);
    expect(() => canonicalDim("4+C")).toThrow(IrError);
    expect(() => canonicalDim(-1)).toThrow(IrError);
  });

  it("evaluate under bindings and are solved from actual shapes", () => {
    const bindings = new Map<string, number>();
    expect(bindShape(["T", "4*C"], [7, 96], bindings)).toBeUndefined();
    expect(bindings.get("T")).toBe(7);
    expect(bindings.get("C")).toBe(24);
    expect(evalDim("4*C*T", bindings)).toBe(672);
    expect(bindShape(["T", 3], [5, 3], bindings)).toMatch(/dimension 0 is 5, but T = 7/);
    expect(bindShape(["4*C"], [10], new Map())).toMatch(/not a multiple of 4/);
    expect(bindShape(["T"], [1, 2], new Map())).toMatch(/rank/);
  });
});

describe("numpy broadcasting", () => {
  it("aligns from the right and stretches ones", () => {
    expect(broadcastShapes(["T", 4, 4], [4, 1])).toEqual(["T", 4, 4]);
    expect(broadcastShapes(["T", 4, 1], ["T", 1, 4])).toEqual(["T", 4, 4]);
    expect(broadcastShapes([], [3])).toEqual([3]);
    expect(broadcastShapes([1], ["T"])).toEqual(["T"]);
  });

  it("rejects what cannot be proven compatible", () => {
    expect(() => broadcastShapes([4, 4], [4, 2])).toThrow(/cannot broadcast \[4, 2\] against \[4, 4\]/);
    expect(() => broadcastShapes(["T"], [4])).toThrow(IrError);
    expect(canBroadcastTo([4, 1], ["T", 4, 4])).toBe(true);
    expect(canBroadcastTo([4, 2], [4, 4])).toBe(false);
  });

  it("counts axes from the end in canonical form", () => {
    expect(negativeAxis(2, 3)).toBe(-1);
    expect(negativeAxis(-3, 3)).toBe(-3);
    expect(() => negativeAxis(3, 3)).toThrow(/out of range/);
  });
});
