import { afterAll, describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import type { Node } from "../../compiler/ir/node.js";
import { OP_NAMES } from "../../compiler/ir/op-names.js";
import type { Dim } from "../../compiler/ir/shape.js";
import { evaluate } from "../../compiler/ir/interpret.js";
import type { Tensor } from "../../compiler/ir/tensor.js";
import { awayFromZero, checkGradients, randomTensor, rng } from "./grad-check.js";

// Every op's gradient rule against central finite differences, through a scalar loss
// sum(y * W) with a random W, on batched and broadcast shapes.

type CaseInput = { readonly shape: readonly Dim[]; readonly value: Tensor };

interface OpCase {
  readonly name: string;
  /** Declared shape (may be symbolic) and the value fed in. */
  readonly inputs: Readonly<Record<string, CaseInput>>;
  readonly build: (b: Builder, x: Readonly<Record<string, Node>>) => Node;
  readonly wrt?: readonly string[];
}

const r = rng(7);
const any = (shape: number[], declared: Dim[] = shape): CaseInput => ({ shape: declared, value: randomTensor(shape, r, -1.5, 1.5) });
const positive = (shape: number[]): CaseInput => ({ shape, value: randomTensor(shape, r, 0.3, 2) });
const nonzero = (shape: number[]): CaseInput => ({ shape, value: awayFromZero(shape, r) });

const unary = (op: "neg" | "exp" | "log" | "sigmoid" | "tanh" | "abs" | "sqrt" | "rsqrt" | "square" | "relu" | "softplus" | "recip", input = any([2, 3, 4], ["T", 3, 4])): OpCase => ({
  name: op,
  inputs: { x: input },
  build: (b, x) => b[op](x["x"] as Node),
});

const binary = (op: "add" | "sub" | "mul" | "div" | "max" | "min" | "pow", a = any([2, 1, 3]), c = nonzero([4, 3])): OpCase => ({
  name: `${op} with broadcasting`,
  inputs: { a, c },
  build: (b, x) => b[op](x["a"] as Node, x["c"] as Node),
});

const cases: OpCase[] = [
  unary("neg"), unary("exp"), unary("log", positive([2, 3])), unary("sigmoid"), unary("tanh"),
  unary("abs", nonzero([2, 3])), unary("sqrt", positive([2, 3])), unary("rsqrt", positive([2, 3])), unary("square"),
  unary("relu", nonzero([3, 4])), unary("softplus"), unary("recip", nonzero([2, 3])),
  { name: "sign (zero gradient, x * |x| = sign(x) x^2)", inputs: { x: nonzero([5]) }, build: (b, x) => b.mul(b.sign(x["x"] as Node), b.square(x["x"] as Node)) },
  binary("add"), binary("sub"), binary("mul"), binary("div"), binary("max", any([2, 1, 3]), any([4, 3])), binary("min", any([2, 1, 3]), any([4, 3])),
  binary("pow", positive([2, 1, 3]), any([4, 3])),
  { name: "scalar operands", inputs: { x: any([3]) }, build: (b, x) => b.div(b.sub(2, b.mul(x["x"] as Node, 3)), 4) },
  ...(["gt", "ge", "lt", "le", "eq"] as const).map((op): OpCase => ({
    name: `where(${op}(a, c), 2a, c^2)`,
    inputs: { a: any([2, 3]), c: any([3]) },
    build: (b, x) => b.where(b[op](x["a"] as Node, x["c"] as Node), b.mul(x["a"] as Node, 2), b.square(x["c"] as Node)),
  })),
  { name: "where with broadcast condition", inputs: { k: nonzero([3, 1]), a: any([3, 4]), c: any([4]) }, build: (b, x) => b.where(b.gt(x["k"] as Node, 0), x["a"] as Node, x["c"] as Node) },
  ...(["sum", "mean", "amax", "amin", "logsumexp"] as const).flatMap((op): OpCase[] => [
    { name: `${op} over the last axis, keepdims`, inputs: { x: any([2, 3, 4], ["T", 3, 4]) }, build: (b, x) => b[op](x["x"] as Node, [-1], true) },
    { name: `${op} over axes [0, 2] (one symbolic)`, inputs: { x: any([2, 3, 4], ["T", 3, 4]) }, build: (b, x) => b[op](x["x"] as Node, [0, 2]) },
    { name: `${op} over everything`, inputs: { x: any([3, 2]) }, build: (b, x) => b[op](x["x"] as Node) },
  ]),
  { name: "amax with ties shares the gradient", inputs: { x: any([2, 3]) }, build: (b, x) => b.amax(b.concat([x["x"] as Node, x["x"] as Node], -1), [-1]) },
  { name: "softmax over rows", inputs: { x: any([2, 4, 4], ["T", 4, 4]) }, build: (b, x) => b.softmax(x["x"] as Node, -1) },
  { name: "softmax over columns", inputs: { x: any([2, 3, 5], ["T", 3, 5]) }, build: (b, x) => b.softmax(x["x"] as Node, -2) },
  { name: "matmul batched", inputs: { a: any([2, 3, 4]), c: any([2, 4, 5]) }, build: (b, x) => b.matmul(x["a"] as Node, x["c"] as Node) },
  { name: "matmul with a broadcast right operand", inputs: { a: any([2, 3, 4], ["T", 3, 4]), c: any([4, 2]) }, build: (b, x) => b.matmul(x["a"] as Node, x["c"] as Node) },
  { name: "matmul with broadcast batch dims", inputs: { a: any([2, 1, 3, 4]), c: any([3, 4, 2]) }, build: (b, x) => b.matmul(x["a"] as Node, x["c"] as Node) },
  { name: "transpose", inputs: { x: any([2, 3, 4]) }, build: (b, x) => b.transpose(x["x"] as Node, [2, 0, 1]) },
  { name: "reshape with a symbolic batch", inputs: { x: any([2, 3, 4], ["T", 3, 4]) }, build: (b, x) => b.reshape(x["x"] as Node, ["T", 12]) },
  { name: "broadcast_to", inputs: { x: any([3, 1]) }, build: (b, x) => b.broadcastTo(x["x"] as Node, [2, 3, 4]) },
  { name: "slice in the middle", inputs: { x: any([2, 5], ["T", 5]) }, build: (b, x) => b.slice(x["x"] as Node, -1, 1, 3) },
  { name: "slice at both ends", inputs: { x: any([4, 2]) }, build: (b, x) => b.add(b.slice(x["x"] as Node, 0, 0, 2), b.slice(x["x"] as Node, 0, 2, 4)) },
  { name: "concat", inputs: { a: any([2, 1]), c: any([2, 3]) }, build: (b, x) => b.concat([x["a"] as Node, x["c"] as Node, x["a"] as Node], 1) },
  { name: "cast to the same float type", inputs: { x: any([3]) }, build: (b, x) => b.cast(x["x"] as Node, "f64") },
  { name: "const, eye and a reused input", inputs: { x: any([3, 3]) }, build: (b, x) => b.mul(b.add(x["x"] as Node, b.eye(3, "f64")), b.add(x["x"] as Node, b.constant([1, 2, 3], [3], "f64"))) },
];

const covered = new Set<string>();

describe("gradient rule of every op vs central finite differences (float64)", () => {
  for (const c of cases) {
    it(c.name, () => {
      const b = new Builder(undefined, { dtype: "f64" });
      const nodes: Record<string, Node> = {};
      const values: Record<string, Tensor> = {};
      for (const [name, { shape, value }] of Object.entries(c.inputs)) {
        nodes[name] = b.input(name, shape);
        values[name] = value;
      }
      const y = c.build(b, nodes);
      // The loss weights get y's actual shape: evaluate y once to learn it.
      const weightShape = (evaluate([y], values).get(y) as Tensor).shape;
      const w = b.input("W", y.shape);
      b.graph.output("loss", b.sum(b.mul(y, w)));
      values["W"] = randomTensor(weightShape, rng(11), -1, 1);
      for (const n of b.graph.nodes) covered.add(n.op);
      checkGradients(b.graph, "loss", values, c.wrt ?? Object.keys(c.inputs));
    });
  }
});

afterAll(() => {
  // Runs after the cases: a new op without a gradient case fails here.
  expect(OP_NAMES.filter((op) => !covered.has(op))).toEqual([]);
});
