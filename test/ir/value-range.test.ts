import { describe, expect, it } from "vitest";
import { emitConstraintFunction } from "../../compiler/codegen/cuda/emit-constraint.js";
import { Builder } from "../../compiler/ir/builder.js";
import { reachableNodes } from "../../compiler/ir/interpret.js";
import type { Node } from "../../compiler/ir/node.js";
import { isNormalRange, valueRanges } from "../../compiler/ir/value-range.js";
import { orthostochastic, sinkhorn } from "./constraint-graphs.js";

/** The ranges of every node reachable from `out`, and the divisors of its div and recip nodes. */
function analyse(out: Node) {
  const nodes = reachableNodes([out]);
  const ranges = valueRanges(nodes);
  const divisors = nodes.filter((n) => n.op === "div" || n.op === "recip").map((n) => ranges.get(n.op === "div" ? n.inputs[1]! : n.inputs[0]!)!);
  return { ranges, divisors, of: (n: Node) => ranges.get(n)! };
}

describe("value ranges", () => {
  it("proves every row and column sum of the Sinkhorn normal through all 20 iterations, and its result in [0, 1]", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const h = sinkhorn(b, b.input("L", [4, 4]), 20, 1e-6);
    const { divisors, of } = analyse(h);
    expect(divisors).toHaveLength(1 + 2 * 19);
    for (const d of divisors) {
      expect(isNormalRange(d)).toBe(true);
      expect(d.lo).toBeGreaterThan(0.99e-6);
      expect(d.hi).toBeLessThan(4.01);
    }
    expect(of(h).lo).toBe(0);
    expect(of(h).hi).toBeGreaterThanOrEqual(1);
    expect(of(h).hi).toBeLessThan(1 + 1e-5);
  });

  it("does not apply the normalisation rule to a numerator that may be negative, nor to a sum over other axes", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const l = b.input("L", [4, 4]);
    const t = b.tanh(l);
    const signed = b.div(t, b.add(b.rowsum(t), 1e-6));
    const e = b.exp(l);
    const wrongAxis = b.div(e, b.add(b.colsum(b.exp(b.neg(l))), 1e-6));
    const { of } = analyse(b.add(signed, wrongAxis));
    expect(of(t)).toEqual({ lo: -1 - 2 ** -20, hi: 1 + 2 ** -20 });
    expect(isNormalRange(of(b.add(b.rowsum(t), 1e-6)))).toBe(false);
    expect(of(signed)).toEqual({ lo: -Infinity, hi: Infinity });
    expect(of(wrongAxis).hi).toBe(Infinity);
  });

  it("follows interval arithmetic: exp, sums of known extent, products, reciprocals, and unbounded inputs", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const l = b.input("L", [3, 5]);
    const s = b.add(b.sum(b.sigmoid(l), [-1], true), 0.5);
    const q = b.recip(s);
    const { of } = analyse(b.mul(q, b.exp(l)));
    expect(of(l)).toEqual({ lo: -Infinity, hi: Infinity });
    expect(of(b.sigmoid(l)).lo).toBe(0);
    expect(of(s).lo).toBeCloseTo(0.5, 5);
    expect(of(s).hi).toBeCloseTo(5.5, 4);
    expect(isNormalRange(of(s))).toBe(true);
    expect(of(q).lo).toBeCloseTo(1 / 5.5, 4);
    expect(of(q).hi).toBeCloseTo(2, 4);
    // exp(L) is unbounded above, so q * exp(L) is in [0, inf).
    expect(of(b.mul(q, b.exp(l)))).toEqual({ lo: 0, hi: Infinity });
  });

  it("counts a positive lower bound below the smallest normal float as 0 (an underflow may flush it)", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const x = b.add(b.softmaxRows(b.input("L", [2, 2])), 1e-30);
    const tiny = b.mul(x, 1e-10);
    const { of } = analyse(tiny);
    expect(of(x).lo).toBeGreaterThan(0);
    expect(of(tiny).lo).toBe(0);
    expect(isNormalRange(of(tiny))).toBe(false);
  });

  it("leaves the orthostochastic map's norm unproven (a sum of squares of unbounded logits may be 0)", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const { divisors } = analyse(orthostochastic(b, b.input("L", [4, 4]), 5, 0));
    expect(divisors.length).toBeGreaterThan(0);
    for (const d of divisors) expect(isNormalRange(d)).toBe(false);
  });
});

describe("normal divisors in the CUDA emitter", () => {
  it("inverts the Sinkhorn's sums with rcp_normal and keeps fdiv where a divisor is not proven", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const l = b.input("L", [4, 4]);
    b.graph.output("H", b.add(sinkhorn(b, l, 3, 1e-6), b.div(l, b.add(b.rowsum(b.square(l)), 1))));
    const fn = emitConstraintFunction(b.graph, { name: "f" }).lines.join("\n");
    // The softmax's sum and the 5 normalisations; L / (rowsum(L^2) + 1) has a divisor in [1, inf).
    expect(fn.match(/mhc::rcp_normal\(/g)).toHaveLength(1 + 5);
    expect(fn.match(/mhc::fdiv\(1\.0f, /g)).toHaveLength(1);
  });

  it("in a rolled loop, uses rcp_normal only where the divisor is normal in every copy", () => {
    // x_0 = softmax(L) + 1 in [1, 2], x_{k+1} = exp(x_k): normal for three copies, then unbounded.
    const build = (copies: number) => {
      const b = new Builder(undefined, { dtype: "f32" });
      let x = b.add(b.softmaxRows(b.input("L", [2, 2])), 1);
      let acc = x;
      for (let k = 0; k < copies; k++) {
        acc = b.add(acc, b.recip(x));
        x = b.exp(x);
      }
      b.graph.output("H", b.add(acc, x));
      return emitConstraintFunction(b.graph, { name: "f", reroll: true }).lines.join("\n");
    };
    const short = build(3);
    const long = build(6);
    expect(short).toContain("for (int it = 0;");
    expect(long).toContain("for (int it = 0;");
    // The softmax's sum is always normal; the loop's reciprocal only in the short chain.
    expect(short.match(/mhc::rcp_normal\(/g)).toHaveLength(2);
    expect(short).not.toContain("mhc::fdiv(");
    expect(long.match(/mhc::rcp_normal\(/g)).toHaveLength(1);
    expect(long).toContain("mhc::fdiv(1.0f, ");
  });
});
