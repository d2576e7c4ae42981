import { describe, it } from "vitest";
import { Builder } from "../../compiler/ir/builder.js";
import type { Node } from "../../compiler/ir/node.js";
import { factorial } from "../../compiler/ir/permutations.js";
import type { Tensor } from "../../compiler/ir/tensor.js";
import { checkGradients, randomTensor, rng } from "./grad-check.js";
import { birkhoffLite, orthostochastic, sinkhorn } from "../ir/constraint-graphs.js";

// Gradients of whole prelude constraints (unrolled loops, many uses of one node,
// broadcasting reductions) vs central finite differences in float64, for every stream
// count the kernels support up to 8, with a token batch T = 2.

const T = 2;
const STREAMS = [1, 2, 3, 4, 6, 8];

function lossGraph(logitShape: (string | number)[], constraint: (b: Builder, l: Node) => Node): Builder {
  const b = new Builder(undefined, { dtype: "f64" });
  const h = constraint(b, b.input("L", logitShape));
  b.graph.output("loss", b.sum(b.mul(h, b.input("W", h.shape))));
  return b;
}

function inputs(logits: readonly number[], n: number, seed: number, scale = 2): Record<string, Tensor> {
  const r = rng(seed);
  return { L: randomTensor(logits, r, -scale, scale), W: randomTensor([T, n, n], r, -1, 1) };
}

describe("autodiff of prelude constraints vs finite differences", () => {
  for (const n of STREAMS) {
    it(`sinkhorn (20 iterations), n = ${n}`, () => {
      const b = lossGraph(["T", n, n], (bb, l) => sinkhorn(bb, l, 20, 1e-6));
      checkGradients(b.graph, "loss", inputs([T, n, n], n, 100 + n), ["L"]);
    });

    it(`orthostochastic (Newton-Schulz, 8 steps), n = ${n}`, () => {
      const b = lossGraph(["T", n, n], (bb, l) => orthostochastic(bb, l, 8));
      // Well-conditioned logits (identity plus noise) keep the iteration in its basin.
      const values = inputs([T, n, n], n, 200 + n, 0.3);
      const l = values["L"] as Tensor;
      for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) l.data[t * n * n + i * n + i] = (l.data[t * n * n + i * n + i] as number) + 1;
      checkGradients(b.graph, "loss", values, ["L"]);
    });
  }

  // n! weights: all coordinates up to n = 4, random directions above (n = 6 has 720,
  // n = 8 has 40320 weights and a [T, 40320, 8, 8] product, so only two directions).
  for (const n of [1, 2, 3, 4, 6, 8]) {
    it(`birkhoff_lite = combine(softmax(w), perms(n)), n = ${n}`, () => {
      const b = lossGraph(["T", factorial(n)], (bb, w) => birkhoffLite(bb, w, n));
      checkGradients(b.graph, "loss", inputs([T, factorial(n)], n, 300 + n), ["L"], { maxCoordinates: 100, directions: n === 8 ? 2 : 6 });
    });
  }
});
