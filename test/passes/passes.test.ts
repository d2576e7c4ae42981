import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { IrError } from "../../compiler/ir/errors.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { interpret } from "../../compiler/ir/interpret.js";
import type { Node } from "../../compiler/ir/node.js";
import { parseGraph } from "../../compiler/ir/parse.js";
import { printGraph } from "../../compiler/ir/print.js";
import type { Tensor } from "../../compiler/ir/tensor.js";
import { eliminateCommonSubexpressions } from "../../compiler/passes/eliminate-common-subexpressions.js";
import { eliminateDeadCode, outputDependsOnInput, unusedInputs } from "../../compiler/passes/eliminate-dead-code.js";
import { foldConstants } from "../../compiler/passes/fold-constants.js";
import { OPTIMIZATION_PIPELINE } from "../../compiler/passes/pipeline.js";
import { rewriteGraph } from "../../compiler/passes/rewrite.js";
import { simplify } from "../../compiler/passes/simplify.js";
import { SIMPLIFY_RULES } from "../../compiler/passes/simplify-rules.js";
import { sinkhorn } from "../ir/constraint-graphs.js";
import { randomTensor, rng } from "./grad-check.js";
import { runPassVerified, runVerified } from "./verified.js";

/** Before/after golden: parse `before`, run the pass (verified), compare printed text. */
function check(name: string, run: (g: Graph) => Graph, before: string, after: string): void {
  const out = runPassVerified(parseGraph(before), name, run);
  expect(printGraph(out).trim()).toBe(after.trim().replace(/^\s+/gm, ""));
}

describe("simplify (exact rewrite rules)", () => {
  it("removes identities and keeps broadcasting ones", () => {
    check(
      "simplify",
      simplify,
      `
      %0 = input() {name="x"} : f64[T, 4]
      %1 = const() {value=[1]} : f64[]
      %2 = mul(%0, %1) : f64[T, 4]
      %3 = neg(%2) : f64[T, 4]
      %4 = neg(%3) : f64[T, 4]
      %5 = const() {value=[0]} : f64[3, 1, 1]
      %6 = add(%4, %5) : f64[3, T, 4]
      %7 = transpose(%4) {perm=[1, 0]} : f64[4, T]
      %8 = transpose(%7) {perm=[1, 0]} : f64[T, 4]
      %9 = div(%8, %1) : f64[T, 4]
      output "y" = %9
      output "z" = %6
      `,
      `
      %0 = input() {name="x"} : f64[T, 4]
      %1 = const() {value=[0]} : f64[3, 1, 1]
      %2 = add(%0, %1) : f64[3, T, 4]
      output "y" = %0
      output "z" = %2
      `,
    );
  });

  it("turns division by a power of two into an exact multiplication, and nothing else", () => {
    check(
      "simplify",
      simplify,
      `
      %0 = input() {name="x"} : f64[4]
      %1 = const() {value=[4]} : f64[]
      %2 = div(%0, %1) : f64[4]
      %3 = const() {value=[3]} : f64[]
      %4 = div(%0, %3) : f64[4]
      %5 = add(%2, %4) : f64[4]
      output "y" = %5
      `,
      `
      %0 = input() {name="x"} : f64[4]
      %1 = const() {value=[0.25]} : f64[]
      %2 = mul(%0, %1) : f64[4]
      %3 = const() {value=[3]} : f64[]
      %4 = div(%0, %3) : f64[4]
      %5 = add(%2, %4) : f64[4]
      output "y" = %5
      `,
    );
  });

  it("gives bit-identical results", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const x = b.input("x", [2, 8]);
    const y = b.add(b.div(b.mul(b.neg(b.neg(x)), 1), 8), b.div(b.sub(x, 0), 0.5));
    b.graph.output("y", b.reshape(b.reshape(y, [16]), [2, 8]));
    const simplified = runPassVerified(b.graph, "simplify", simplify);
    expect(simplified.nodes.length).toBeLessThan(b.graph.nodes.length);
    expect(simplified.nodes.some((n) => n.op === "div" || n.op === "neg" || n.op === "reshape")).toBe(false);
    const input = { x: randomTensor([2, 8], rng(1), -1e3, 1e3) };
    expect(interpret(simplified, input)["y"]?.data).toEqual(interpret(b.graph, input)["y"]?.data);
  });

  it("states a law for every rule, and refuses rules that change a node's type", () => {
    for (const rule of SIMPLIFY_RULES) expect(rule.law).toMatch(/->/);
    const b = new Builder(undefined, { dtype: "f64" });
    b.graph.output("y", b.exp(b.input("x", [3])));
    const bad = [{ root: "exp" as const, law: "exp(x) -> sum(x) (wrong)", apply: (n: Node, bb: Builder) => bb.sum(n.inputs[0] as Node) }];
    expect(() => rewriteGraph(b.graph, bad)).toThrow(/changed its type/);
    const loop = [{ root: "exp" as const, law: "exp(x) -> exp(neg(neg(x))) (never settles)", apply: (n: Node, bb: Builder) => bb.exp(bb.neg(bb.neg(n.inputs[0] as Node))) }];
    expect(() => rewriteGraph(b.graph, loop)).toThrow(IrError);
  });
});

describe("constant folding", () => {
  it("folds literal subtrees (an init expression) and leaves the rest", () => {
    check(
      "fold-constants",
      foldConstants,
      `
      %0 = eye() : f32[3, 3]
      %1 = const() {value=[1]} : f32[]
      %2 = sub(%0, %1) : f32[3, 3]
      %3 = const() {value=[8]} : f32[]
      %4 = mul(%2, %3) : f32[3, 3]
      %5 = input() {name="b"} : f32[3, 3]
      %6 = add(%4, %5) : f32[3, 3]
      output "bias" = %6
      `,
      `
      %0 = const() {value=[0, -8, -8, -8, 0, -8, -8, -8, 0]} : f32[3, 3]
      %1 = input() {name="b"} : f32[3, 3]
      %2 = add(%0, %1) : f32[3, 3]
      output "bias" = %2
      `,
    );
  });

  it("rounds folded values to the node's dtype", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    b.graph.output("c", b.div(b.scalar(1), b.scalar(3)));
    const folded = eliminateDeadCode(foldConstants(b.graph));
    expect(folded.nodes).toHaveLength(1);
    expect(folded.nodes[0]?.attrs["value"]).toEqual([Math.fround(1 / 3)]);
  });
});

describe("CSE and DCE", () => {
  it("merges nodes that became equal after a rewrite", () => {
    const g = parseGraph(`
      %0 = input() {name="x"} : f64[3]
      %1 = const() {value=[1]} : f64[]
      %2 = mul(%0, %1) : f64[3]
      %3 = exp(%2) : f64[3]
      %4 = exp(%0) : f64[3]
      %5 = add(%3, %4) : f64[3]
      output "y" = %5
    `);
    const out = runVerified(g, OPTIMIZATION_PIPELINE);
    expect(printGraph(out)).toBe('%0 = input() {name="x"} : f64[3]\n%1 = exp(%0) : f64[3]\n%2 = add(%1, %1) : f64[3]\noutput "y" = %2\n');
    expect(printGraph(eliminateCommonSubexpressions(out))).toBe(printGraph(out));
  });

  it("drops unreachable nodes and reports dependence on inputs", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const l = b.input("L", ["T", 4, 4]);
    b.exp(l); // dead
    b.graph.output("identity", b.eye(4));
    b.graph.output("H", sinkhorn(b, l, 3));
    expect(outputDependsOnInput(b.graph, "identity", "L")).toBe(false);
    expect(outputDependsOnInput(b.graph, "H", "L")).toBe(true);
    expect(outputDependsOnInput(b.graph, "H", "missing")).toBe(false);
    expect(() => outputDependsOnInput(b.graph, "nope", "L")).toThrow(/no output named/);

    const onlyIdentity = new Builder(undefined, { dtype: "f64" });
    onlyIdentity.input("L", ["T", 4, 4]);
    onlyIdentity.graph.output("H", onlyIdentity.eye(4));
    expect(unusedInputs(onlyIdentity.graph)).toEqual(["L"]);
    expect(printGraph(runPassVerified(onlyIdentity.graph, "dce", eliminateDeadCode))).toBe('%0 = eye() : f64[4, 4]\noutput "H" = %0\n');

    const live = runPassVerified(b.graph, "dce", eliminateDeadCode);
    expect(live.nodes.some((n) => n.op === "exp")).toBe(false);
    expect(live.nodes.length).toBe(b.graph.nodes.length - 1);
  });
});

describe("the pipeline", () => {
  it("lists passes with reasons and keeps a constraint's numbers bit-identical", () => {
    for (const pass of OPTIMIZATION_PIPELINE) expect(pass.reason.length).toBeGreaterThan(10);
    const b = new Builder(undefined, { dtype: "f64" });
    const l = b.input("L", ["T", 4, 4]);
    const bias = b.mul(b.sub(b.eye(4), 1), 8); // `init (eye(n) - 1) * 8`
    b.graph.output("H", sinkhorn(b, b.add(b.mul(l, 1), bias), 20, 1e-6));
    const optimised = runVerified(b.graph);
    const input = { L: randomTensor([5, 4, 4], rng(3), -2, 2) };
    const before = interpret(b.graph, input)["H"] as Tensor;
    const after = interpret(optimised, input)["H"] as Tensor;
    expect(after.data).toEqual(before.data);
    expect(optimised.nodes.length).toBeLessThan(b.graph.nodes.length);
  });
});
