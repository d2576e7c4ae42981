import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { IrError } from "../../compiler/ir/errors.js";
import type { Graph } from "../../compiler/ir/graph.js";
import type { Node } from "../../compiler/ir/node.js";
import { parseGraph, parseRawGraph } from "../../compiler/ir/parse.js";
import { printGraph } from "../../compiler/ir/print.js";

/** Structural identity: same ops, inputs (by id), attrs, types and outputs, in order. */
function structure(g: Graph): unknown {
  return {
    nodes: g.nodes.map((n) => ({ id: n.id, op: n.op, inputs: n.inputs.map((i) => i.id), attrs: n.attrs, shape: n.shape, dtype: n.dtype })),
    outputs: g.outputs.map((o) => [o.name, o.node.id]),
  };
}

function sinkhornStep(): Graph {
  const b = new Builder(undefined, { dtype: "f64" });
  const l = b.input("L", ["T", 4, 4]);
  let m = b.add(b.softmaxCols(l), 1e-6);
  m = b.div(m, b.add(b.rowsum(m), 1e-6));
  b.graph.output("H", m);
  return b.graph;
}

describe("textual IR", () => {
  it("prints a readable, deterministic form", () => {
    expect(printGraph(sinkhornStep())).toBe(
      [
        '%0 = input() {name="L"} : f64[T, 4, 4]',
        "%1 = softmax(%0) {axis=-2} : f64[T, 4, 4]",
        "%2 = const() {value=[0.000001]} : f64[]",
        "%3 = add(%1, %2) : f64[T, 4, 4]",
        "%4 = sum(%3) {axes=[-1], keepdims=true} : f64[T, 4, 1]",
        "%5 = add(%4, %2) : f64[T, 4, 1]",
        "%6 = div(%3, %5) : f64[T, 4, 4]",
        'output "H" = %6',
        "",
      ].join("\n"),
    );
    expect(printGraph(sinkhornStep())).toBe(printGraph(sinkhornStep()));
  });

  it("round-trips symbolic dims, every attr kind, special numbers and spans", () => {
    const b = new Builder(undefined, { dtype: "f32" });
    const x = b.at({ file: "dir/a b.mhc", start: 3, end: 17 }).input("x \"quoted\"", ["T", 4, "C"]);
    const flat = b.reshape(x, ["T", "4*C"]);
    const lits = b.constant([-0, Infinity, -Infinity, NaN, 1e-300, 2.5e20], [6], "f32");
    const parts = b.split(b.input("p", ["T", 24], "f32"), -1, [4, 4, 16]);
    const m = b.transpose(b.reshape(parts[2] as Node, ["T", 4, 4]), [0, 2, 1]);
    const mask = b.cast(b.ge(m, 0), "bool");
    b.graph.output("flat", b.amax(flat, [1], false));
    b.graph.output("lits", b.mul(lits, b.eye(6, "f32")));
    b.graph.output("sel", b.where(mask, m, b.broadcastTo(b.scalar(0.5, "f32"), ["T", 4, 4])));
    b.graph.output("cat", b.concat([parts[0] as Node, parts[1] as Node], -1));
    b.graph.output("again", x);
    const text = printGraph(b.graph, { spans: true });
    expect(text).toContain('loc("dir/a b.mhc", 3, 17)');
    expect(text).toContain("value=[-0, inf, -inf, nan, 1e-300, 250000000000000000000]");
    expect(text).toContain("f32[T, 4*C]");
    const parsed = parseGraph(text);
    expect(structure(parsed)).toEqual(structure(b.graph));
    expect(printGraph(parsed, { spans: true })).toBe(text);
    expect(parsed.nodes[0]?.span).toEqual({ file: "dir/a b.mhc", start: 3, end: 17 });
    expect(Object.is((parsed.nodes.find((n) => n.op === "const")?.attrs["value"] as number[])[0], -0)).toBe(true);
  });

  it("parses the example of compiler/ir/README.md back to the same text", () => {
    const readme = readFileSync(new URL("../../compiler/ir/README.md", import.meta.url), "utf8");
    const example = /## Textual form\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    expect(example).toContain("output");
    expect(printGraph(parseGraph(example), { spans: true })).toBe(example);
  });

  it("accepts comments, blank lines and non-canonical spellings", () => {
    const g = parseGraph(`
      // a hand-written graph
      %0 = input() {name="M"} : f64[T, 3, 3]

      %7 = sum(%0) {axes=[2]} : f64[T, 3]
      output "r" = %7
    `);
    expect(printGraph(g)).toBe('%0 = input() {name="M"} : f64[T, 3, 3]\n%1 = sum(%0) {axes=[-1], keepdims=false} : f64[T, 3]\noutput "r" = %1\n');
  });

  it("reports syntax and validity errors with their line", () => {
    expect(() => parseGraph('%0 = input() {name="x"} : f64[2]\n%1 = exp(%0 : f64[2]')).toThrow(/line 2: expected "\)"/);
    expect(() => parseGraph("%0 = input() {name=\"x\"} : f64[2] junk")).toThrow(/line 1/);
    expect(() => parseGraph("%0 = exp(%1) : f64[2]")).toThrow(/uses %1 before it is defined/);
    expect(() => parseGraph('%0 = input() {name="x"} : f64[2]\n%1 = exp(%0) : f64[3]')).toThrow(IrError);
    expect(() => parseRawGraph("%0 = input() {name=\"x\"} : f64[2]\n%0 = exp(%0) : f64[2]")).toThrow(/defined twice/);
    expect(() => parseRawGraph("%0 = x() : f64[2] @")).toThrow(/unexpected character/);
  });

  it("round-trips randomly built graphs", () => {
    type Step = { op: number; a: number; c: number; k: number };
    const step = fc.record({ op: fc.nat(15), a: fc.nat(50), c: fc.nat(50), k: fc.integer({ min: -3, max: 3 }) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 25 }), (steps: Step[]) => {
        const b = new Builder(undefined, { dtype: "f64" });
        const pool: Node[] = [b.input("L", ["T", 3, 3]), b.input("v", [3]), b.eye(3)];
        for (const s of steps) {
          const a = pool[s.a % pool.length] as Node;
          const c = pool[s.c % pool.length] as Node;
          const builders: (() => Node)[] = [
            () => b.add(a, c), () => b.mul(a, s.k), () => b.exp(a), () => b.softmax(a, s.k),
            () => b.sum(a, [s.k], s.k > 0), () => b.matmul(a, c), () => b.mT(a), () => b.where(b.gt(a, c), a, c),
            () => b.logsumexp(a, [s.k], true), () => b.slice(a, -1, 0, 2), () => b.concat([a, c], s.k),
            () => b.reshape(a, [...a.shape].reverse()), () => b.constant([s.k, 0.5, -1], [3]), () => b.amin(a),
            () => b.div(a, b.sqrt(b.square(c))), () => b.cast(b.cast(a, "f32"), "f64"),
          ];
          try {
            pool.push((builders[s.op % builders.length] as () => Node)());
          } catch (e) {
            if (!(e instanceof IrError)) throw e;
          }
        }
        pool.forEach((n, i) => b.graph.output(`o${i}`, n));
        const text = printGraph(b.graph);
        const parsed = parseGraph(text);
        expect(structure(parsed)).toEqual(structure(b.graph));
        expect(printGraph(parsed)).toBe(text);
      }),
      { numRuns: 150, seed: 42 },
    );
  });
});
