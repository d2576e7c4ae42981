import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { interpret } from "../../compiler/ir/interpret.js";
import { makeTensor, type Tensor } from "../../compiler/ir/tensor.js";
import { buildConstraintGraph, concreteLogitsShape } from "../../compiler/lower/constraint-graph.js";
import type { CompileValue } from "../../compiler/lower/values.js";
import { checkFiles } from "../../compiler/driver.js";
import { checkGradients, randomTensor, rng } from "../passes/grad-check.js";
import { sinkhorn } from "../helpers/reference-mhc.js";

const checked = checkFiles(["examples/tiny.mhc"]).checked;
const prelude = checked.constraints.get(checked.program.prelude!.absPath)!;

function run(name: string, n: number, logits: Tensor, args: Record<string, CompileValue> = {}, precision: "f64" | "f32" = "f64"): Tensor {
  const sig = prelude.get(name)!;
  const argMap = new Map(Object.entries(args));
  const shape = concreteLogitsShape(checked, sig, n, argMap) ?? logits.shape.slice(1);
  const g = buildConstraintGraph(checked, sig, n, argMap, shape);
  return interpret(g.graph, { L: logits }, { precision })["H"]!;
}

const matrixAt = (t: Tensor, b: number, n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from(t.data.slice(b * n * n + i * n, b * n * n + (i + 1) * n)));

function sums(t: Tensor, b: number, n: number): { rows: number[]; cols: number[] } {
  const m = matrixAt(t, b, n);
  return { rows: m.map((r) => r.reduce((a, v) => a + v, 0)), cols: m[0]!.map((_, j) => m.reduce((a, r) => a + r[j]!, 0)) };
}

describe("prelude constraints lowered to the IR", () => {
  it.each([1, 2, 3, 4, 6, 8])("sinkhorn matches the plain-loop reference to 1e-12 (n = %i)", (n) => {
    const random = rng(n);
    const logits = randomTensor([5, n, n], random, -4, 4);
    const H = run("sinkhorn", n, logits);
    for (let b = 0; b < 5; b++) {
      const L = Array.from({ length: n }, (_, i) => Array.from(logits.data.slice(b * n * n + i * n, b * n * n + (i + 1) * n)));
      const expected = sinkhorn(L).flat();
      const actual = matrixAt(H, b, n).flat();
      for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(1e-12);
    }
  });

  it("sinkhorn stays finite and row-stochastic for extreme logits (+-1e4)", () => {
    const n = 4;
    const random = rng(7);
    const logits = makeTensor([3, n, n], Array.from({ length: 3 * n * n }, () => (random() < 0.5 ? -1e4 : 1e4) * random()));
    const H = run("sinkhorn", n, logits);
    expect(H.data.every(Number.isFinite)).toBe(true);
    for (let b = 0; b < 3; b++) for (const r of sums(H, b, n).rows) expect(Math.abs(r - 1)).toBeLessThan(1e-5);
  });

  it("sinkhorn_log converges to row and column sums of 1 within 1e-9 with enough iterations", () => {
    const n = 4;
    const logits = randomTensor([4, n, n], rng(11), -3, 3);
    const H = run("sinkhorn_log", n, logits, { iters: 400 });
    for (let b = 0; b < 4; b++) {
      const { rows, cols } = sums(H, b, n);
      for (const s of [...rows, ...cols]) expect(Math.abs(s - 1)).toBeLessThan(1e-9);
    }
  });

  it.each([2, 3, 4, 5])("birkhoff_lite is exactly doubly stochastic (n = %i)", (n) => {
    const k = [1, 1, 2, 6, 24, 120][n]!;
    const H = run("birkhoff_lite", n, randomTensor([3, k], rng(n), -5, 5));
    for (let b = 0; b < 3; b++) {
      const { rows, cols } = sums(H, b, n);
      for (const s of [...rows, ...cols]) expect(Math.abs(s - 1)).toBeLessThan(1e-12);
      expect(matrixAt(H, b, n).flat().every((v) => v >= 0)).toBe(true);
    }
  });

  it("orthostochastic is doubly stochastic once Newton-Schulz has converged", () => {
    const n = 4;
    // Well-conditioned logits: near the identity plus noise.
    const random = rng(3);
    const logits = makeTensor([2, n, n], Array.from({ length: 2 * n * n }, (_, i) => ((i % (n * n)) % (n + 1) === 0 ? 1 : 0) + 0.2 * (random() - 0.5)));
    const H = run("orthostochastic", n, logits);
    for (let b = 0; b < 2; b++) {
      const { rows, cols } = sums(H, b, n);
      for (const s of [...rows, ...cols]) expect(Math.abs(s - 1)).toBeLessThan(1e-9);
    }
  });

  it("identity ignores its logits and is broadcast over the batch", () => {
    const H = run("identity", 3, randomTensor([2, 3, 3], rng(1)));
    expect(Array.from(H.data)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it("shape-polymorphic constraints take vector and matrix logits", () => {
    expect(Array.from(run("scaled_sigmoid", 2, makeTensor([1, 2], [0, 100]), { scale: 3 }).data)).toEqual([1.5, 3]);
    expect(run("sigmoid_eps", 2, makeTensor([1, 2, 2], [0, 0, 0, 0])).data[0]).toBeCloseTo(0.5 + 1e-6, 15);
  });

  it("float32 mode rounds every operation and stays within float32 error", () => {
    const n = 4;
    const logits = randomTensor([3, n, n], rng(5), -2, 2);
    const f64 = run("sinkhorn", n, logits);
    const f32 = run("sinkhorn", n, logits, {}, "f32");
    let worst = 0;
    for (let i = 0; i < f64.data.length; i++) worst = Math.max(worst, Math.abs(f64.data[i]! - f32.data[i]!));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-5);
  });
});

describe("gradients of every prelude constraint against finite differences", () => {
  const cases: [string, number[], Record<string, CompileValue>][] = [
    ["sinkhorn", [1, 2, 3, 4, 6, 8], {}],
    ["sinkhorn_log", [1, 2, 3, 4, 6, 8], {}],
    ["softmax_rows_only", [1, 2, 3, 4, 6, 8], {}],
    ["orthostochastic", [1, 2, 3, 4, 6], { steps: 8 }],
    ["birkhoff_lite", [1, 2, 3, 4], {}],
    ["unconstrained", [1, 3, 4], {}],
    ["sigmoid_eps", [1, 3, 4, 8], {}],
    ["scaled_sigmoid", [1, 3, 4, 8], {}],
    ["tanh_gate", [1, 3, 4, 8], {}],
  ];
  for (const [name, ns, args] of cases) {
    it.each(ns)(`${name} (n = %i)`, (n) => {
      const sig = prelude.get(name)!;
      const argMap = new Map(Object.entries(args));
      const shape = concreteLogitsShape(checked, sig, n, argMap) ?? [n, n];
      const { graph, result } = buildConstraintGraph(checked, sig, n, argMap, shape, { batch: [2] });
      // A scalar loss: a random weighting of every coefficient.
      const b = new Builder(graph, { dtype: "f64" });
      const weights = b.input("W", result.shape);
      graph.output("loss", b.sum(b.mul(result, weights)));
      const random = rng(100 + n);
      const concrete = result.shape as number[];
      const inputs = { L: randomTensor([2, ...shape], random, -1.5, 1.5), W: randomTensor(concrete, random) };
      checkGradients(graph, "loss", inputs, ["L"], { maxCoordinates: 200, directions: 3 });
    });
  }
});
