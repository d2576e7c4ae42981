import { describe, expect, it } from "vitest";
import * as P from "../../compiler/sema/poly.js";
import { broadcastShapes, showShape } from "../../compiler/sema/values.js";

const n = P.atom("n");
const c = P.constant;

describe("symbolic integers", () => {
  it("normalises so that equal expressions compare equal", () => {
    expect(P.equal(P.mul(n, n), P.mul(n, n))).toBe(true);
    expect(P.equal(P.add(P.mul(c(2), n), c(1)), P.add(c(1), P.add(n, n)))).toBe(true);
    expect(P.equal(P.sub(n, n), c(0))).toBe(true);
    expect(P.equal(n, P.mul(n, n))).toBe(false);
  });

  it("prints canonically", () => {
    expect(P.show(P.add(P.mul(n, n), P.sub(P.mul(c(2), n), c(1))))).toBe("n * n + 2 * n - 1");
    expect(P.show(P.fact(n))).toBe("fact(n)");
    expect(P.show(P.fact(c(4)))).toBe("24");
  });

  it("substitutes atoms, including inside fact()", () => {
    const k = P.add(P.mul(n, n), P.fact(n));
    expect(P.constantValue(P.substitute(k, new Map([["n", c(4)]])))).toBe(16 + 24);
  });

  it("keeps atoms whose names contain `*` apart from products", () => {
    const f = P.fact(P.mul(n, n));
    expect(P.show(P.mul(f, n))).toBe("fact(n * n) * n");
    expect(P.constantValue(P.substitute(f, new Map([["n * n", c(3)]])))).toBe(6);
  });
});

describe("broadcasting over symbolic shapes", () => {
  const b = (x: P.Poly[], y: P.Poly[]) => {
    const out = broadcastShapes(x, y);
    return out ? showShape(out) : "error";
  };
  it("follows numpy rules for every n", () => {
    expect(b([n, n], [n, c(1)])).toBe("[n, n]");
    expect(b([n, n], [c(1), n])).toBe("[n, n]");
    expect(b([n, c(1)], [c(1), n])).toBe("[n, n]");
    expect(b([n, n], [])).toBe("[n, n]");
    expect(b([n], [n, n])).toBe("[n, n]");
  });
  it("rejects what works only for particular n", () => {
    expect(b([n, n], [n, c(2)])).toBe("error");
    expect(b([n], [P.mul(n, n)])).toBe("error");
  });
});
