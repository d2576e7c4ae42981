import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import type { RawNode } from "../../compiler/ir/node.js";
import { parseRawGraph } from "../../compiler/ir/parse.js";
import { assertValidGraph, verifyGraph } from "../../compiler/ir/verify.js";

// Malformed IR written as text (what the raw parser accepts but the factory never
// builds), each with the problem the verifier must report.

const INPUT = '%0 = input() {name="L"} : f64[T, 4, 4]';

const invalid: readonly { name: string; text: string; expected: RegExp[] }[] = [
  { name: "use before definition", text: `${INPUT}\n%1 = add(%0, %2) : f64[T, 4, 4]\n%2 = exp(%0) : f64[T, 4, 4]`, expected: [/%1 \(add\): input %2 is used before it is defined/] },
  { name: "undefined input", text: `${INPUT}\n%1 = exp(%9) : f64[T, 4, 4]`, expected: [/input %9 is not defined in the graph/] },
  { name: "unknown op", text: `${INPUT}\n%1 = frobnicate(%0) : f64[T, 4, 4]`, expected: [/unknown op "frobnicate"/] },
  { name: "wrong arity", text: `${INPUT}\n%1 = add(%0) : f64[T, 4, 4]`, expected: [/add: expects 2 input\(s\), got 1/] },
  { name: "wrong result shape", text: `${INPUT}\n%1 = sum(%0) {axes=[-1], keepdims=true} : f64[T, 4]`, expected: [/result shape is \[T, 4, 1\], but \[T, 4\] was declared/] },
  { name: "wrong result dtype", text: `${INPUT}\n%1 = exp(%0) : f32[T, 4, 4]`, expected: [/result dtype is f64, but f32 was declared/] },
  { name: "unknown dtype", text: `%0 = input() {name="x"} : f16[2]`, expected: [/unknown dtype "f16"/] },
  { name: "bad broadcast", text: `${INPUT}\n%1 = input() {name="v"} : f64[3]\n%2 = mul(%0, %1) : f64[T, 4, 4]`, expected: [/%2 \(mul\): .*cannot broadcast \[3\] against \[T, 4, 4\]/] },
  { name: "missing attribute", text: `${INPUT}\n%1 = softmax(%0) : f64[T, 4, 4]`, expected: [/missing attribute "axis"/] },
  { name: "unknown attribute", text: `${INPUT}\n%1 = exp(%0) {axis=1} : f64[T, 4, 4]`, expected: [/unknown attribute "axis"/] },
  { name: "attribute of the wrong kind", text: `${INPUT}\n%1 = transpose(%0) {perm=true} : f64[4, 4, T]`, expected: [/attribute "perm" must be ints/] },
  { name: "axis out of range", text: `${INPUT}\n%1 = softmax(%0) {axis=3} : f64[T, 4, 4]`, expected: [/axis 3 is out of range for rank 3/] },
  { name: "bool arithmetic", text: `${INPUT}\n%1 = gt(%0, %0) : bool[T, 4, 4]\n%2 = exp(%1) : bool[T, 4, 4]`, expected: [/expects a float dtype, got bool/] },
  { name: "const with the wrong number of values", text: `%0 = const() {value=[1, 2, 3]} : f64[2, 2]`, expected: [/3 values for shape \[2, 2\]/] },
  { name: "symbolic const", text: `%0 = const() {value=[1]} : f64[T]`, expected: [/must be concrete/] },
  { name: "duplicate input names", text: `${INPUT}\n%1 = input() {name="L"} : f64[4]`, expected: [/input name "L" is already used by %0/] },
  { name: "duplicate ids", text: "", expected: [/id %0 is used by more than one node/] },
  { name: "output of an undefined node", text: `${INPUT}\noutput "H" = %5`, expected: [/output "H" refers to %5, which is not in the graph/] },
  { name: "output named twice", text: `${INPUT}\noutput "H" = %0\noutput "H" = %0`, expected: [/output "H" is defined twice/] },
  { name: "several problems at once", text: `${INPUT}\n%1 = exp(%0) : f64[4]\n%2 = log(%0) : f32[T, 4, 4]`, expected: [/%1 \(exp\): .*result shape/, /%2 \(log\): .*result dtype/] },
];

describe("the IR verifier", () => {
  for (const c of invalid) {
    it(`reports ${c.name}`, () => {
      let graph = parseRawGraph(c.text);
      if (c.name === "duplicate ids") {
        const a: RawNode = { id: 0, op: "input", inputs: [], attrs: { name: "a" }, shape: [2], dtype: "f64" };
        const b: RawNode = { id: 0, op: "exp", inputs: [a], attrs: {}, shape: [2], dtype: "f64" };
        graph = { nodes: [a, b], outputs: [] };
      }
      const messages = verifyGraph(graph).map((p) => p.message);
      expect(messages).toHaveLength(c.expected.length);
      c.expected.forEach((re, i) => expect(messages[i]).toMatch(re));
      expect(() => assertValidGraph(graph)).toThrow(/failed verification/);
    });
  }

  it("accepts what the factory builds", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const l = b.input("L", ["T", 4, 4]);
    b.graph.output("H", b.combine(b.softmax(b.input("w", ["T", 24]), -1), b.perms(4)));
    b.graph.output("N", b.div(l, b.liftRank(b.norm(l, 1), 1, 2)));
    expect(verifyGraph(b.graph)).toEqual([]);
  });
});
