import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { IrError } from "../../compiler/ir/errors.js";
import { interpret } from "../../compiler/ir/interpret.js";
import type { Node } from "../../compiler/ir/node.js";
import type { Dim } from "../../compiler/ir/shape.js";
import { fromNested, makeTensor, toNested, type Tensor } from "../../compiler/ir/tensor.js";

/** Builds `f` over named inputs (shapes declared, possibly symbolic) and runs it. */
function run(
  inputs: Record<string, { shape: Dim[]; value: unknown }>,
  f: (b: Builder, x: Record<string, Node>) => Node,
  precision: "f64" | "f32" = "f64",
): Tensor {
  const b = new Builder(undefined, { dtype: "f64" });
  const nodes: Record<string, Node> = {};
  const values: Record<string, Tensor> = {};
  for (const [name, { shape, value }] of Object.entries(inputs)) {
    nodes[name] = b.input(name, shape);
    values[name] = fromNested(value as number[]);
  }
  b.graph.output("y", f(b, nodes));
  return interpret(b.graph, values, { precision })["y"] as Tensor;
}

const none = {};

function close(actual: Tensor, expected: unknown, tol = 1e-12): void {
  const e = fromNested(expected as number[]);
  expect(actual.shape).toEqual(e.shape);
  actual.data.forEach((v, i) => {
    const w = e.data[i] as number;
    if (Number.isNaN(w) || !Number.isFinite(w)) expect(v).toBe(w);
    else expect(Math.abs(v - w), `element ${i}: ${v} vs ${w}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(w)));
  });
}

describe("interpreter: elementwise ops", () => {
  it("computes unary ops, stably at extremes", () => {
    const x = { x: { shape: [5], value: [-1000, -30, 0, 0.5, 1000] } };
    close(run(x, (b, v) => b.sigmoid(v["x"] as Node)), [0, 1 / (1 + Math.exp(30)), 0.5, 1 / (1 + Math.exp(-0.5)), 1]);
    close(run(x, (b, v) => b.softplus(v["x"] as Node)), [0, 9.357622968839299e-14, Math.LN2, Math.log(1 + Math.exp(0.5)), 1000]);
    close(run(x, (b, v) => b.tanh(v["x"] as Node)), [-1, -1, 0, Math.tanh(0.5), 1]);
    close(run(x, (b, v) => b.relu(v["x"] as Node)), [0, 0, 0, 0.5, 1000]);
    close(run(x, (b, v) => b.sign(v["x"] as Node)), [-1, -1, 0, 1, 1]);
    close(run(x, (b, v) => b.abs(b.neg(v["x"] as Node))), [1000, 30, 0, 0.5, 1000]);
    const p = { x: { shape: [3], value: [0.25, 1, 4] } };
    close(run(p, (b, v) => b.sqrt(v["x"] as Node)), [0.5, 1, 2]);
    close(run(p, (b, v) => b.rsqrt(v["x"] as Node)), [2, 1, 0.5]);
    close(run(p, (b, v) => b.recip(v["x"] as Node)), [4, 1, 0.25]);
    close(run(p, (b, v) => b.square(v["x"] as Node)), [0.0625, 1, 16]);
    close(run(p, (b, v) => b.log(b.exp(v["x"] as Node))), [0.25, 1, 4]);
  });

  it("broadcasts binary ops numpy-style", () => {
    const io = { a: { shape: [2, 1], value: [[1], [2]] }, c: { shape: [3], value: [10, 20, 30] } };
    close(run(io, (b, v) => b.add(v["a"] as Node, v["c"] as Node)), [[11, 21, 31], [12, 22, 32]]);
    close(run(io, (b, v) => b.sub(v["a"] as Node, v["c"] as Node)), [[-9, -19, -29], [-8, -18, -28]]);
    close(run(io, (b, v) => b.div(v["c"] as Node, v["a"] as Node)), [[10, 20, 30], [5, 10, 15]]);
    close(run(io, (b, v) => b.pow(v["a"] as Node, 3)), [[1], [8]]);
    close(run(io, (b, v) => b.max(b.mul(v["a"] as Node, 15), v["c"] as Node)), [[15, 20, 30], [30, 30, 30]]);
    close(run(io, (b, v) => b.min(b.mul(v["a"] as Node, 15), v["c"] as Node)), [[10, 15, 15], [10, 20, 30]]);
    close(run(io, (b, v) => b.clamp(v["c"] as Node, 12, 25)), [12, 20, 25]);
  });

  it("compares, selects and casts", () => {
    const io = { a: { shape: [4], value: [1, 2, 3, 4] }, c: { shape: [4], value: [2, 2, 2, 2] } };
    close(run(io, (b, v) => b.cast(b.gt(v["a"] as Node, v["c"] as Node), "f64")), [0, 0, 1, 1]);
    close(run(io, (b, v) => b.cast(b.ge(v["a"] as Node, v["c"] as Node), "f64")), [0, 1, 1, 1]);
    close(run(io, (b, v) => b.cast(b.lt(v["a"] as Node, v["c"] as Node), "f64")), [1, 0, 0, 0]);
    close(run(io, (b, v) => b.cast(b.le(v["a"] as Node, v["c"] as Node), "f64")), [1, 1, 0, 0]);
    close(run(io, (b, v) => b.cast(b.eq(v["a"] as Node, v["c"] as Node), "f64")), [0, 1, 0, 0]);
    close(run(io, (b, v) => b.where(b.gt(v["a"] as Node, 2), v["a"] as Node, b.neg(v["c"] as Node))), [-2, -2, 3, 4]);
    const c = { x: { shape: [5], value: [-2.7, 0.1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 0] } };
    close(run(c, (b, v) => b.cast(b.cast(v["x"] as Node, "i32"), "f64")), [-2, 0, 1, 1, 0]);
    close(run(c, (b, v) => b.cast(b.cast(v["x"] as Node, "bf16"), "f64")), [-2.703125, 0.10009765625, 1, 1.015625, 0]);
    close(run(c, (b, v) => b.cast(b.cast(v["x"] as Node, "bool"), "f64")), [1, 1, 1, 1, 0]);
    close(run(c, (b, v) => b.cast(b.cast(v["x"] as Node, "f32"), "f64")), [Math.fround(-2.7), Math.fround(0.1), 1 + 2 ** -8, 1 + 3 * 2 ** -8, 0], 0);
  });

  it("rounds every op in f32 mode", () => {
    const io = { a: { shape: [1], value: [0.1] }, c: { shape: [1], value: [0.2] } };
    const f64 = run(io, (b, v) => b.add(v["a"] as Node, v["c"] as Node));
    const f32 = run(io, (b, v) => b.add(v["a"] as Node, v["c"] as Node), "f32");
    expect(f64.data[0]).toBe(0.1 + 0.2);
    expect(f32.data[0]).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    const e = run({ x: { shape: [1], value: [1] } }, (b, v) => b.exp(v["x"] as Node), "f32");
    expect(e.data[0]).toBe(Math.fround(Math.E));
  });
});

describe("interpreter: reductions, softmax, contraction and movement", () => {
  const x = { x: { shape: ["T", 2, 3] as Dim[], value: [[[1, 2, 3], [4, 5, 6]], [[-1, 0, 1], [7, 8, 9]]] } };
  it("reduces over axis lists, with and without keepdims", () => {
    close(run(x, (b, v) => b.sum(v["x"] as Node, [-1], true)), [[[6], [15]], [[0], [24]]]);
    close(run(x, (b, v) => b.sum(v["x"] as Node, [0, 2])), [6, 39]);
    close(run(x, (b, v) => b.mean(v["x"] as Node, [1])), [[2.5, 3.5, 4.5], [3, 4, 5]]);
    close(run(x, (b, v) => b.amax(v["x"] as Node, [-2])), [[4, 5, 6], [7, 8, 9]]);
    close(run(x, (b, v) => b.amin(v["x"] as Node)), -1);
    close(run(x, (b, v) => b.logsumexp(v["x"] as Node, [-1])), [[3 + Math.log(1 + Math.exp(-1) + Math.exp(-2)), 6 + Math.log(1 + Math.exp(-1) + Math.exp(-2))], [1 + Math.log(1 + Math.exp(-1) + Math.exp(-2)), 9 + Math.log(1 + Math.exp(-1) + Math.exp(-2))]]);
  });

  it("keeps logsumexp and softmax finite for huge or infinite logits", () => {
    const big = { x: { shape: [2, 3], value: [[1000, 1000, 1000], [-Infinity, 0, -Infinity]] } };
    close(run(big, (b, v) => b.logsumexp(v["x"] as Node, [-1])), [1000 + Math.log(3), 0]);
    close(run(big, (b, v) => b.softmax(v["x"] as Node, -1)), [[1 / 3, 1 / 3, 1 / 3], [0, 1, 0]]);
    const allMinus = { x: { shape: [2], value: [-Infinity, -Infinity] } };
    close(run(allMinus, (b, v) => b.logsumexp(v["x"] as Node)), -Infinity);
  });

  it("normalises columns with softmax_cols", () => {
    const m = run({ L: { shape: [2, 2], value: [[0, Math.log(3)], [0, 0]] } }, (b, v) => b.softmaxCols(v["L"] as Node));
    close(m, [[0.5, 0.75], [0.5, 0.25]]);
  });

  it("multiplies batched matrices with broadcasting", () => {
    const io = { a: { shape: [2, 1, 2], value: [[[1, 2]], [[3, 4]]] }, c: { shape: [2, 2], value: [[1, 10], [100, 1000]] } };
    close(run(io, (b, v) => b.matmul(v["a"] as Node, v["c"] as Node)), [[[201, 2010]], [[403, 4030]]]);
    close(run(io, (b, v) => b.matmul(v["c"] as Node, b.mT(v["a"] as Node))), [[[21], [2100]], [[43], [4300]]]);
  });

  it("moves elements", () => {
    close(run(x, (b, v) => b.transpose(v["x"] as Node, [2, 0, 1])), [[[1, 4], [-1, 7]], [[2, 5], [0, 8]], [[3, 6], [1, 9]]]);
    close(run(x, (b, v) => b.reshape(v["x"] as Node, ["T", 6])), [[1, 2, 3, 4, 5, 6], [-1, 0, 1, 7, 8, 9]]);
    close(run(x, (b, v) => b.slice(v["x"] as Node, -1, 1, 3)), [[[2, 3], [5, 6]], [[0, 1], [8, 9]]]);
    close(run(x, (b, v) => b.concat([b.slice(v["x"] as Node, -1, 2, 3), b.slice(v["x"] as Node, -1, 0, 1)], -1)), [[[3, 1], [6, 4]], [[1, -1], [9, 7]]]);
    close(run({ v: { shape: [2, 1], value: [[1], [2]] } }, (b, v) => b.broadcastTo(v["v"] as Node, [2, 2, 3])), [[[1, 1, 1], [2, 2, 2]], [[1, 1, 1], [2, 2, 2]]]);
    close(run(none, (b) => b.add(b.eye(2, "f64"), b.constant([1, 2, 3, 4], [2, 2], "f64"))), [[2, 2], [3, 5]]);
    close(run(none, (b) => b.zeros([3], "f64")), [0, 0, 0]);
  });
});

describe("interpreter: symbolic dims and inputs", () => {
  it("binds T and C from inputs and checks consistency", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const x = b.input("x", ["T", 2, "C"]);
    const flat = b.reshape(x, ["T", "2*C"]);
    b.graph.output("y", b.matmul(flat, b.input("phi", ["2*C", 1])));
    const xs = makeTensor([1, 2, 3], [1, 2, 3, 4, 5, 6]);
    const out = interpret(b.graph, { x: xs, phi: makeTensor([6, 1], [1, 1, 1, 1, 1, 1]) });
    expect(toNested(out["y"] as Tensor)).toEqual([[21]]);
    expect(() => interpret(b.graph, { x: xs, phi: makeTensor([4, 1], [1, 1, 1, 1]) })).toThrow(/input "phi" has shape \[4, 1\].*2\*C = 6/);
    expect(() => interpret(b.graph, { x: xs })).toThrow(/missing input "phi"/);
    expect(() => interpret(b.graph, { x: { shape: [1, 2, 3], data: new Float64Array(2) }, phi: makeTensor([6, 1], 1) })).toThrow(IrError);
    expect(() => interpret(b.graph, { x: xs, phi: makeTensor([6, 1], 1) }, { outputs: ["nope"] })).toThrow(/no output named "nope"/);
  });
});
