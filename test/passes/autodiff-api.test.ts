import { describe, expect, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import { interpret } from "../../compiler/ir/interpret.js";
import type { Node } from "../../compiler/ir/node.js";
import { printGraph } from "../../compiler/ir/print.js";
import { makeTensor, type Tensor } from "../../compiler/ir/tensor.js";
import { verifyGraph } from "../../compiler/ir/verify.js";
import { appendGradients, differentiate, gradientOutputName, seedInputName } from "../../compiler/passes/autodiff.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import { sinkhorn } from "../ir/constraint-graphs.js";
import { checkGradients, randomTensor, rng } from "./grad-check.js";

describe("differentiate (graph -> graph)", () => {
  it("seeds a scalar with 1 and prints a readable gradient graph", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const x = b.input("x", [3]);
    b.graph.output("loss", b.sum(b.square(x)));
    const g = differentiate(b.graph, { of: "loss", wrt: ["x"] });
    expect(verifyGraph(g)).toEqual([]);
    expect(g.outputs.map((o) => o.name)).toEqual(["loss", "grad_x"]);
    const out = interpret(g, { x: makeTensor([3], [1, -2, 3]) });
    expect(Array.from((out["grad_x"] as Tensor).data)).toEqual([2, -4, 6]);
    expect(printGraph(g)).toMatchInlineSnapshot(`
      "%0 = input() {name="x"} : f64[3]
      %1 = square(%0) : f64[3]
      %2 = sum(%1) {axes=[-1], keepdims=false} : f64[]
      %3 = const() {value=[1]} : f64[]
      %4 = reshape(%3) : f64[1]
      %5 = broadcast_to(%4) : f64[3]
      %6 = const() {value=[2]} : f64[]
      %7 = mul(%6, %0) : f64[3]
      %8 = mul(%5, %7) : f64[3]
      output "loss" = %2
      output "grad_x" = %8
      "
    `);
  });

  it("takes a cotangent input for a non-scalar output (a vector-Jacobian product)", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const l = b.input("L", ["T", 3, 3]);
    b.graph.output("H", sinkhorn(b, l, 5));
    const g = differentiate(b.graph, { of: "H", wrt: ["L"] });
    const seed = g.findInput(seedInputName("H"));
    expect(seed?.shape).toEqual(["T", 3, 3]);
    // <grad_L, dL> with seed W equals the gradient of sum(H * W): compare to the scalar route.
    const values = { L: randomTensor([2, 3, 3], rng(1), -2, 2), W: randomTensor([2, 3, 3], rng(2), -1, 1) };
    const vjp = interpret(g, { L: values.L, [seedInputName("H")]: values.W })[gradientOutputName("L")] as Tensor;
    const s = new Builder(undefined, { dtype: "f64" });
    const h = sinkhorn(s, s.input("L", ["T", 3, 3]), 5);
    s.graph.output("loss", s.sum(s.mul(h, s.input("W", ["T", 3, 3]))));
    const viaScalar = interpret(differentiate(s.graph, { of: "loss", wrt: ["L"] }), values)["grad_L"] as Tensor;
    vjp.data.forEach((v, i) => expect(v).toBeCloseTo(viaScalar.data[i] as number, 14));
  });

  it("gives zeros for an input the output ignores (a constraint without logits)", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    b.input("L", ["T", 2, 2]);
    const w = b.input("w", [2, 2]);
    b.graph.output("loss", b.sum(b.mul(b.eye(2), w)));
    const g = differentiate(b.graph, { of: "loss", wrt: ["L", "w"] });
    const out = interpret(g, { L: makeTensor([3, 2, 2], 1), w: makeTensor([2, 2], 5) });
    expect(Array.from((out["grad_L"] as Tensor).data)).toEqual(new Array(12).fill(0));
    expect(out["grad_L"]?.shape).toEqual([3, 2, 2]);
    expect(Array.from((out["grad_w"] as Tensor).data)).toEqual([1, 0, 0, 1]);
    expect(() => differentiate(b.graph, { of: "nope", wrt: ["w"] })).toThrow(/no output named/);
    expect(() => differentiate(b.graph, { of: "loss", wrt: ["nope"] })).toThrow(/no input named/);
  });

  it("appends gradients inside an existing graph, and survives the optimisation pipeline", () => {
    const b = new Builder(undefined, { dtype: "f64" });
    const x = b.input("x", [2, 2]);
    const y = b.matmul(x, x);
    const [gx] = appendGradients(b, y, b.input("dy", [2, 2]), [x]);
    b.graph.output("gx", gx as Node);
    const values = { x: makeTensor([2, 2], [1, 2, 3, 4]), dy: makeTensor([2, 2], [1, 0, 0, 1]) };
    // d/dx <x x, I> = (x^T + x^T) = 2 x^T
    expect(Array.from((interpret(b.graph, values)["gx"] as Tensor).data)).toEqual([2, 6, 4, 8]);
    const optimised = runPipeline(b.graph, undefined, { verify: true });
    expect(Array.from((interpret(optimised, values)["gx"] as Tensor).data)).toEqual([2, 6, 4, 8]);
  });
});

describe("a whole mHC sublayer (design §1) with symbolic T and C", () => {
  /**
   * rms norm over n*C, projections `xf @ phi_m / r`, alpha and bias, sigmoid pre/post
   * maps, a 20-step Sinkhorn residual map, the pre-mix and the post/res mix with an
   * identity sublayer F.
   */
  function sublayer(n: number): Builder {
    const b = new Builder(undefined, { dtype: "f64" });
    const x = b.input("x", ["T", n, "C"]);
    const phi = b.input("phi", [`${n}*C`, n + n + n * n]);
    const alpha = b.input("alpha", [3]);
    const bias = b.input("bias", [n + n + n * n]);
    const xf = b.reshape(x, ["T", `${n}*C`]);
    const r = b.sqrt(b.add(b.mean(b.square(xf), [-1], true), 1e-6));
    const proj = b.div(b.matmul(xf, phi), r);
    const [pPre, pPost, pRes] = b.split(proj, -1, [n, n, n * n]) as [Node, Node, Node];
    const [bPre, bPost, bRes] = b.split(bias, -1, [n, n, n * n]) as [Node, Node, Node];
    const [aPre, aPost, aRes] = b.split(alpha, -1, [1, 1, 1]) as [Node, Node, Node];
    const hPre = b.add(b.sigmoid(b.add(b.mul(aPre, pPre), bPre)), 1e-6);
    const hPost = b.mul(2, b.sigmoid(b.add(b.mul(aPost, pPost), bPost)));
    const hRes = sinkhorn(b, b.reshape(b.add(b.mul(aRes, pRes), bRes), ["T", n, n]), 20, 1e-6);
    const u = b.sum(b.mul(b.unsqueeze(hPre, -1), x), [-2]); // [T, C]
    const f = u; // identity sublayer
    const y = b.add(b.matmul(hRes, x), b.mul(b.unsqueeze(hPost, -1), b.unsqueeze(f, -2)));
    b.graph.output("y", y);
    b.graph.output("loss", b.sum(b.mul(y, b.input("W", ["T", n, "C"]))));
    return b;
  }

  for (const n of [1, 3, 4]) {
    it(`gradients w.r.t. x, phi, alpha, bias match finite differences, n = ${n}`, () => {
      const T = 2;
      const C = 3;
      const k = 2 * n + n * n;
      const r = rng(40 + n);
      const values = {
        x: randomTensor([T, n, C], r, -1, 1),
        phi: randomTensor([n * C, k], r, -0.5, 0.5),
        alpha: randomTensor([3], r, 0.5, 1),
        bias: randomTensor([k], r, -1, 1),
        W: randomTensor([T, n, C], r, -1, 1),
      };
      const b = sublayer(n);
      expect(b.graph.findOutput("y")?.shape).toEqual(["T", n, "C"]);
      checkGradients(b.graph, "loss", values, ["x", "phi", "alpha", "bias"]);
    });
  }
});
