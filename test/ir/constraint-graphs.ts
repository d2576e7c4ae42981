import { Builder } from "../../compiler/ir/builder.js";
import type { Node } from "../../compiler/ir/node.js";

// The prelude constraints of design §2.2, written with builder helpers the way a
// lowering of std.mhc will produce them, over a leading token batch (batchDims = 1).

/** sinkhorn(L, iters, eps): softmax_cols + eps, a row normalisation, then iters-1 (col, row) rounds. */
export function sinkhorn(b: Builder, logits: Node, iters = 20, eps = 1e-6): Node {
  let m = b.add(b.softmaxCols(logits), eps);
  m = b.div(m, b.add(b.rowsum(m), eps));
  for (let i = 0; i < iters - 1; i++) {
    m = b.div(m, b.add(b.colsum(m), eps));
    m = b.div(m, b.add(b.rowsum(m), eps));
  }
  return m;
}

/** orthostochastic(L, steps): Newton-Schulz polar factor of L / norm(L), squared elementwise. */
export function orthostochastic(b: Builder, logits: Node, steps: number, batchDims = 1): Node {
  let x = b.div(logits, b.liftRank(b.norm(logits, batchDims), batchDims, 2));
  for (let i = 0; i < steps; i++) {
    x = b.sub(b.mul(1.5, x), b.mul(0.5, b.matmul(b.matmul(x, b.mT(x)), x)));
  }
  return b.square(x);
}

/** birkhoff_lite(w): combine(softmax(w), perms(n)), w: [..., n!]. */
export function birkhoffLite(b: Builder, weights: Node, n: number): Node {
  return b.combine(b.softmax(weights, -1), b.perms(n, weights.dtype));
}
