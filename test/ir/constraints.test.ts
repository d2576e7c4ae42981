import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { interpret } from "../../compiler/ir/interpret.js";
import { factorial, permutations } from "../../compiler/ir/permutations.js";
import { makeTensor, toNested, type Tensor } from "../../compiler/ir/tensor.js";
import { rng, randomTensor } from "../passes/grad-check.js";
import { birkhoffLite, orthostochastic, sinkhorn } from "./constraint-graphs.js";

// Forward values of the prelude constraints built from builder helpers, against their
// defining properties and an independent plain-loop implementation.

const T = 3;

/** Sums over the last axis (rows) and the second-to-last (columns) of a [T, n, n] tensor. */
function marginals(h: Tensor, n: number): { rows: number[]; cols: number[] } {
  const rows: number[] = [];
  const cols: number[] = [];
  for (let t = 0; t < h.shape[0]!; t++) {
    for (let i = 0; i < n; i++) {
      let r = 0;
      let c = 0;
      for (let j = 0; j < n; j++) {
        r += h.data[t * n * n + i * n + j]!;
        c += h.data[t * n * n + j * n + i]!;
      }
      rows.push(r);
      cols.push(c);
    }
  }
  return { rows, cols };
}

/** The paper's Sinkhorn in plain loops over one [n, n] matrix (no IR involved). */
function sinkhornByHand(l: number[][], iters: number, eps: number): number[][] {
  const n = l.length;
  let m = l.map((row) => [...row]);
  for (let j = 0; j < n; j++) {
    const mx = Math.max(...m.map((r) => r[j]!));
    const e = m.map((r) => Math.exp(r[j]! - mx));
    const s = e.reduce((a, b) => a + b, 0);
    m.forEach((r, i) => (r[j] = e[i]! / s + eps));
  }
  const rowNorm = (): void => m.forEach((r) => { const s = r.reduce((a, b) => a + b, 0) + eps; r.forEach((_, j) => (r[j] = r[j]! / s)); });
  const colNorm = (): void => { for (let j = 0; j < n; j++) { const s = m.reduce((a, r) => a + r[j]!, 0) + eps; m.forEach((r) => (r[j] = r[j]! / s)); } };
  rowNorm();
  for (let k = 0; k < iters - 1; k++) { colNorm(); rowNorm(); }
  return m;
}

function runConstraint(shape: (string | number)[], build: (b: Builder, l: ReturnType<Builder["input"]>) => ReturnType<Builder["input"]>, value: Tensor): Tensor {
  const b = new Builder(undefined, { dtype: "f64" });
  b.graph.output("H", build(b, b.input("L", shape)));
  return interpret(b.graph, { L: value })["H"] as Tensor;
}

describe("sinkhorn built from helpers", () => {
  for (const n of [1, 2, 3, 4, 6, 8]) {
    it(`matches a plain-loop implementation to 1e-12 and is doubly stochastic, n = ${n}`, () => {
      const l = randomTensor([T, n, n], rng(n), -4, 4);
      const h = runConstraint(["T", n, n], (b, x) => sinkhorn(b, x, 20, 1e-6), l);
      const byToken = toNested(l) as number[][][];
      byToken.forEach((lt, t) => {
        const expected = sinkhornByHand(lt, 20, 1e-6).flat();
        expected.forEach((v, k) => expect(Math.abs(h.data[t * n * n + k]! - v)).toBeLessThan(1e-12));
      });
      // Ends on a row normalisation: rows sum to s / (s + eps), i.e. 1 up to eps.
      const { rows, cols } = marginals(h, n);
      rows.forEach((r) => expect(Math.abs(r - 1)).toBeLessThan(2e-6));
      // Columns only converge: 20 iterations leave up to ~1e-3 on logits in [-4, 4].
      cols.forEach((c) => expect(Math.abs(c - 1)).toBeLessThan(1e-2));
    });
  }

  it("with eps = 0 has row sums of exactly 1 (to 1e-12) and converged columns", () => {
    const n = 4;
    const h = runConstraint(["T", n, n], (b, x) => sinkhorn(b, x, 200, 0), randomTensor([T, n, n], rng(9), -2, 2));
    const { rows, cols } = marginals(h, n);
    rows.forEach((r) => expect(Math.abs(r - 1)).toBeLessThan(1e-12));
    cols.forEach((c) => expect(Math.abs(c - 1)).toBeLessThan(1e-9));
  });

  it("stays finite for extreme logits", () => {
    const l = makeTensor([1, 2, 2], [1e4, -1e4, -1e4, 1e4]);
    const h = runConstraint(["T", 2, 2], (b, x) => sinkhorn(b, x, 20, 1e-6), l);
    h.data.forEach((v) => expect(Number.isFinite(v)).toBe(true));
    expect(h.data[0]).toBeGreaterThan(0.99);
  });
});

describe("other prelude constraints", () => {
  it("orthostochastic: the square of an orthogonal polar factor is doubly stochastic", () => {
    const n = 4;
    const l = randomTensor([T, n, n], rng(5), -0.3, 0.3);
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) l.data[t * n * n + i * n + i]! += 1;
    const h = runConstraint(["T", n, n], (b, x) => orthostochastic(b, x, 30), l);
    const { rows, cols } = marginals(h, n);
    [...rows, ...cols].forEach((s) => expect(Math.abs(s - 1)).toBeLessThan(1e-9));
  });

  it("perms(n) lists permutation matrices in lexicographic order", () => {
    expect(permutations(3)).toEqual([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]);
    const b = new Builder(undefined, { dtype: "f64" });
    const p = b.perms(3);
    expect(p.shape).toEqual([6, 3, 3]);
    b.graph.output("P", p);
    const stack = toNested(interpret(b.graph, {})["P"] as Tensor) as number[][][];
    expect(stack[0]).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(stack[3]).toEqual([[0, 1, 0], [0, 0, 1], [1, 0, 0]]); // sigma = (1, 2, 0): row i has its 1 at sigma(i)
  });

  it("combine(w, perms(n)) with one-hot w picks a permutation; birkhoff_lite is doubly stochastic", () => {
    const n = 3;
    const oneHot = makeTensor([1, 6], [0, 0, 0, 1, 0, 0]);
    const b = new Builder(undefined, { dtype: "f64" });
    b.graph.output("H", b.combine(b.input("w", ["T", 6]), b.perms(n)));
    expect(toNested(interpret(b.graph, { w: oneHot })["H"] as Tensor)).toEqual([[[0, 1, 0], [0, 0, 1], [1, 0, 0]]]);

    for (const m of [1, 2, 3, 4]) {
      const h = runConstraint(["T", factorial(m)], (bb, w) => birkhoffLite(bb, w, m), randomTensor([T, factorial(m)], rng(m), -3, 3));
      const { rows, cols } = marginals(h, m);
      [...rows, ...cols].forEach((s) => expect(Math.abs(s - 1)).toBeLessThan(1e-12));
    }
  });

  it("norm is the Frobenius norm per token", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    b.graph.output("n", b.norm(b.input("x", ["T", 2, 2]), 1));
    const out = interpret(b.graph, { x: makeTensor([2, 2, 2], [3, 0, 0, 4, 1, 1, 1, 1]) })["n"] as Tensor;
    expect(Array.from(out.data)).toEqual([5, 2]);
  });
});
