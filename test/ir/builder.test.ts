import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { IrError } from "../../compiler/ir/errors.js";
import { Graph } from "../../compiler/ir/graph.js";
import { OPS } from "../../compiler/ir/ops.js";
import { OP_NAMES } from "../../compiler/ir/op-names.js";

const f64 = () => new Builder(undefined, { dtype: "f64" });

describe("the node factory", () => {
  it("hash-conses: the same op, inputs, attrs and type give the same node", () => {
    const b = f64();
    const l = b.input("L", ["T", 4, 4]);
    const a = b.softmax(l, -2);
    expect(b.softmax(l, 1)).toBe(a); // axis 1 of rank 3 is axis -2
    expect(b.add(a, 1e-6)).toBe(b.add(a, 1e-6));
    expect(b.sum(a, [2, 1], true)).toBe(b.sum(a, [-1, -2], true));
    expect(b.constant([1, 1, 1, 1], [2, 2])).toBe(b.constant(1, [2, 2])); // splat canonical form
    expect(b.add(a, 1)).not.toBe(b.add(a, 2));
    expect(b.graph.nodes.map((n) => n.id)).toEqual(b.graph.nodes.map((_, i) => i));
  });

  it("ignores spans for identity and keeps the first one", () => {
    const b = f64();
    const x = b.input("x", [2]);
    const first = b.at({ file: "a.mhc", start: 1, end: 4 }).exp(x);
    const second = b.at({ file: "a.mhc", start: 9, end: 12 }).exp(x);
    expect(second).toBe(first);
    expect(first.span).toEqual({ file: "a.mhc", start: 1, end: 4 });
    expect(b.exp(b.exp(x)).span).toBeUndefined();
  });

  it("infers shapes per op, with broadcasting and batch dims", () => {
    const b = f64();
    const m = b.input("M", ["T", 4, 4]);
    expect(b.rowsum(m).shape).toEqual(["T", 4, 1]);
    expect(b.colsum(m).shape).toEqual(["T", 1, 4]);
    expect(b.div(m, b.rowsum(m)).shape).toEqual(["T", 4, 4]);
    expect(b.matmul(m, b.eye(4)).shape).toEqual(["T", 4, 4]);
    expect(b.matmul(b.input("A", [2, 1, 3, 5]), b.input("B", [7, 5, 6])).shape).toEqual([2, 7, 3, 6]);
    expect(b.transpose(m, [1, 2, 0]).shape).toEqual([4, 4, "T"]);
    expect(b.mT(b.input("R", ["T", 2, 3])).shape).toEqual(["T", 3, 2]);
    expect(b.reshape(b.input("x", ["T", 4, "C"]), ["T", "4*C"]).shape).toEqual(["T", "4*C"]);
    expect(b.sum(m, [0]).shape).toEqual([4, 4]);
    expect(b.gt(m, 0).dtype).toBe("bool");
    expect(b.cast(m, "f32").dtype).toBe("f32");
    expect(b.concat([b.input("p", ["T", 4]), b.input("q", ["T", 16])], -1).shape).toEqual(["T", 20]);
  });

  it("throws IrError on invalid construction", () => {
    const b = f64();
    const m = b.input("M", ["T", 4, 4]);
    const v = b.input("v", [3]);
    expect(() => b.add(m, v)).toThrow(/cannot broadcast \[3\] against \[T, 4, 4\]/);
    expect(() => b.matmul(m, v)).toThrow(/rank >= 2/);
    expect(() => b.matmul(m, b.input("N", [3, 4]))).toThrow(/inner dimensions/);
    expect(() => b.sum(m, [3])).toThrow(/out of range/);
    expect(() => b.sum(m, [1, -2])).toThrow(/repeated axis/);
    expect(() => b.reshape(m, ["T", 15])).toThrow(/element counts differ/);
    expect(() => b.slice(m, 0, 0, 1)).toThrow(/must be concrete/);
    expect(() => b.slice(m, -1, 2, 9)).toThrow(/non-empty range/);
    expect(() => b.transpose(m, [0, 0, 1])).toThrow(/not a permutation/);
    expect(() => b.add(m, b.input("f", [4], "f32"))).toThrow(/dtype mismatch/);
    expect(() => b.exp(b.gt(m, 0))).toThrow(/float dtype/);
    expect(() => b.input("M", [4])).toThrow(/declared twice/);
    expect(() => b.constant([1, 2, 3], [2, 2])).toThrow(/3 values/);
    const g = b.graph;
    expect(() => g.node("exp", [])).toThrow(/expects 1 input/);
    expect(() => g.node("softmax", [m], { axis: -1, bogus: 1 })).toThrow(/unknown attribute "bogus"/);
    expect(() => g.node("softmax", [m], {})).toThrow(/missing attribute "axis"/);
    expect(() => g.node("softmax", [m], { axis: 0.5 })).toThrow(/must be int/);
    expect(() => g.node("add", [m, m], {}, { shape: [4, 4] })).toThrow(/declared/);
    expect(() => g.node("exp", [f64().input("x", [1])])).toThrow(/another graph/);
    try {
      b.add(m, v);
    } catch (e) {
      expect(e).toBeInstanceOf(IrError);
    }
  });

  it("names outputs once", () => {
    const g = new Graph();
    const b = new Builder(g);
    const x = b.input("x", [1]);
    g.output("y", x);
    expect(() => g.output("y", x)).toThrow(/defined twice/);
    expect(g.findOutput("y")).toBe(x);
    expect(g.findInput("x")).toBe(x);
  });
});

describe("the op table", () => {
  it("has one entry per op with a doc line and traits", () => {
    expect(Object.keys(OPS)).toEqual([...OP_NAMES]);
    for (const name of OP_NAMES) {
      expect(OPS[name].name).toBe(name);
      expect(OPS[name].doc.length).toBeGreaterThan(3);
      expect(OPS[name].traits).toContain("pure");
    }
  });
});

describe("builder helpers for the constraint builtins", () => {
  it("expand into primitives only", () => {
    const b = f64();
    const l = b.input("L", ["T", 3, 3]);
    b.graph.output("x", b.add(b.softmaxCols(l), b.logsumexpRows(l)));
    b.graph.output("n", b.norm(l, 1));
    b.graph.output("c", b.combine(b.softmax(b.input("w", ["T", 6]), -1), b.perms(3)));
    b.graph.output("k", b.clamp(l, -1, 1));
    const ops = new Set(b.graph.nodes.map((n) => n.op));
    expect([...ops].sort()).toEqual(["add", "const", "input", "logsumexp", "max", "min", "mul", "reshape", "softmax", "sqrt", "square", "sum"]);
    expect(b.graph.findOutput("n")?.shape).toEqual(["T"]);
    expect(b.graph.findOutput("c")?.shape).toEqual(["T", 3, 3]);
  });

  it("lifts batched values to a common logical rank", () => {
    const b = f64();
    const m = b.input("M", ["T", 4, 4]);
    const s = b.sumAll(m, 1);
    expect(s.shape).toEqual(["T"]);
    expect(b.liftRank(s, 1, 2).shape).toEqual(["T", 1, 1]);
    expect(b.div(m, b.liftRank(s, 1, 2)).shape).toEqual(["T", 4, 4]);
    expect(b.unsqueeze(s, -1).shape).toEqual(["T", 1]);
    expect(b.split(b.input("p", ["T", 24]), -1, [4, 4, 16]).map((n) => n.shape)).toEqual([["T", 4], ["T", 4], ["T", 16]]);
  });
});
