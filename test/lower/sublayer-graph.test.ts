import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { interpret } from "../../compiler/ir/interpret.js";
import { makeTensor, type Tensor } from "../../compiler/ir/tensor.js";
import { buildSublayerGraph } from "../../compiler/lower/sublayer-graph.js";
import { checkSource } from "../helpers/check-source.js";
import { mhcSublayer, type Matrix } from "../helpers/reference-mhc.js";
import { checkGradients, randomTensor, rng } from "../passes/grad-check.js";

function connection(text: string, name: string) {
  const result = checkSource(text);
  expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  return { checked: result.checked, conn: result.checked.connections.get(name)! };
}

const toMatrix = (t: Tensor): Matrix => Array.from({ length: t.shape[0]! }, (_, i) => Array.from(t.data.slice(i * t.shape[1]!, (i + 1) * t.shape[1]!)));
const to3 = (data: Float64Array, a: number, b: number, c: number): number[][][] =>
  Array.from({ length: a }, (_, i) => Array.from({ length: b }, (_, j) => Array.from(data.slice((i * b + j) * c, (i * b + j + 1) * c))));

describe("the sublayer graph (design.md §1)", () => {
  for (const n of [1, 3, 4, 8]) {
    for (const C of [1, 7, 96]) {
      it(`matches the plain-loop reference for mhc, n = ${n}, C = ${C}`, () => {
        const { checked, conn } = connection(`connection k { streams ${n} pre sigmoid_eps() post scaled_sigmoid() res sinkhorn() init (eye(n) - 1) * 8 }`, "k");
        const { graph } = buildSublayerGraph(checked, conn);
        const random = rng(n * 1000 + C);
        const T = 3;
        const inputs: Record<string, Tensor> = {
          x: randomTensor([T, n, C], random, -2, 2),
          phi_pre: randomTensor([n * C, n], random, -0.5, 0.5),
          phi_post: randomTensor([n * C, n], random, -0.5, 0.5),
          phi_res: randomTensor([n * C, n * n], random, -0.5, 0.5),
          alpha: makeTensor([3], [0.3, -0.7, 1.1]),
          bias_pre: randomTensor([n], random),
          bias_post: randomTensor([n], random),
          bias_res: randomTensor([n * n], random),
        };
        const out = interpret(graph, inputs);
        const ref = mhcSublayer(to3(inputs["x"]!.data, T, n, C), {
          phi_pre: toMatrix(inputs["phi_pre"]!),
          phi_post: toMatrix(inputs["phi_post"]!),
          phi_res: toMatrix(inputs["phi_res"]!),
          alpha: [0.3, -0.7, 1.1],
          bias_pre: Array.from(inputs["bias_pre"]!.data),
          bias_post: Array.from(inputs["bias_post"]!.data),
          bias_res: Array.from(inputs["bias_res"]!.data),
        });
        const close = (actual: Tensor, expected: number[], tol: number) => {
          expect(actual.data.length).toBe(expected.length);
          for (let i = 0; i < expected.length; i++) expect(Math.abs(actual.data[i]! - expected[i]!)).toBeLessThan(tol * Math.max(1, Math.abs(expected[i]!)));
        };
        close(out["H_pre"]!, ref.H_pre.flat(), 1e-12);
        close(out["H_post"]!, ref.H_post.flat(), 1e-12);
        close(out["H_res"]!, ref.H_res.flat(2), 1e-12);
        close(out["u"]!, ref.u.flat(), 1e-12);
        close(out["y"]!, ref.y.flat(2), 1e-12);
      });
    }
  }

  it("is the plain residual y = x + F(x) for the prelude's `residual`", () => {
    const { checked, conn } = connection("", "residual");
    const { graph, parameters } = buildSublayerGraph(checked, conn);
    expect(parameters.map((p) => p.name)).toEqual(["alpha", "bias_pre", "bias_post", "bias_res"]);
    const x = randomTensor([4, 1, 5], rng(2));
    const out = interpret(graph, { x, alpha: makeTensor([3], [0, 0, 0]), bias_pre: makeTensor([1], [0]), bias_post: makeTensor([1], [0]), bias_res: makeTensor([1], [0]) });
    expect(Array.from(out["y"]!.data)).toEqual(Array.from(x.data).map((v) => 2 * v));
  });

  it("gives HC per-stream projections: column i of H_res depends only on stream i", () => {
    const { checked, conn } = connection("", "hc");
    const { graph, parameters } = buildSublayerGraph(checked, conn);
    expect(parameters.map((p) => [p.name, p.shape])).toEqual([
      ["phi_pre", ["C", 1]], ["phi_post", ["C", 1]], ["phi_res", ["C", 4]], ["alpha", [3]], ["bias_pre", [4]], ["bias_post", [4]], ["bias_res", [16]],
    ]);
    const random = rng(9);
    const C = 6;
    const base: Record<string, Tensor> = {
      x: randomTensor([1, 4, C], random),
      phi_pre: randomTensor([C, 1], random),
      phi_post: randomTensor([C, 1], random),
      phi_res: randomTensor([C, 4], random),
      alpha: makeTensor([3], [1, 1, 1]),
      bias_pre: randomTensor([4], random),
      bias_post: randomTensor([4], random),
      bias_res: randomTensor([16], random),
    };
    const before = interpret(graph, base)["H_res"]!;
    // Change stream 2 only: only column 2 of H_res may change.
    const x = makeTensor([1, 4, C], base["x"]!.data.map((v, i) => (Math.floor(i / C) === 2 ? v + 0.5 : v)));
    const after = interpret(graph, { ...base, x })["H_res"]!;
    for (let out = 0; out < 4; out++) {
      for (let inp = 0; inp < 4; inp++) {
        const changed = before.data[out * 4 + inp] !== after.data[out * 4 + inp];
        expect(changed, `H_res[${out}, ${inp}]`).toBe(inp === 2);
      }
    }
  });

  it.each([
    ["mhc", 1],
    ["mhc", 3],
    ["mhc", 4],
    ["hc", 3],
    ["hc", 4],
    ["mhc_lite", 3],
  ])("has gradients that agree with finite differences (%s, n = %i)", (name, n) => {
    const { checked, conn } = connection(`model m { vocab 8 dim 8 context 8 layers 1 connection ${name}(n = ${n}) block { identity() } }`, "mhc");
    const model = checked.models.get("m")!;
    const { graph, parameters } = buildSublayerGraph(checked, model.connection, { hidden: 3 });
    const b = new Builder(graph, { dtype: "f64" });
    const y = graph.findOutput("y")!;
    const weights = b.input("W", y.shape);
    graph.output("loss", b.sum(b.mul(y, weights)));
    const random = rng(n + name.length);
    const inputs: Record<string, Tensor> = { x: randomTensor([2, n, 3], random, -1.5, 1.5), W: randomTensor([2, n, 3], random) };
    for (const p of parameters) inputs[p.name] = p.name === "alpha" ? makeTensor([3], [0.7, 0.4, 0.9]) : randomTensor(p.shape as number[], random, -0.8, 0.8);
    checkGradients(graph, "loss", inputs, ["x", ...parameters.map((p) => p.name)], { maxCoordinates: 120, directions: 3 });
  });
});
