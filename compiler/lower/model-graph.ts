import { Builder } from "../ir/builder.js";
import type { DType } from "../ir/dtype.js";
import { IrError } from "../ir/errors.js";
import { Graph } from "../ir/graph.js";
import type { Node } from "../ir/node.js";
import type { Tensor } from "../ir/tensor.js";
import type { CheckedConnection, CheckedModel } from "../sema/checked.js";
import type { CheckedProgram } from "../sema/index.js";
import { lowerAttention } from "./model-attention.js";
import { Inliner } from "./model-inline.js";
import { geluTanh, meanCrossEntropy, rmsNorm, silu, swiglu } from "./model-ops.js";
import { modelParameterSpecs, modelStreams, sublayerConfigs, type ModelParameterSpec, type SublayerConfig } from "./model-parameters.js";
import { connectionParameters } from "./parameters.js";
import { buildSublayerGraph } from "./sublayer-graph.js";

/** The `eps` added to the gated collapse's weights (design.md §1: `sigmoid(...) + eps`). */
export const COLLAPSE_GATE_EPS = 1e-6;

export interface ModelGraphOptions {
  /** Tokens per sequence, 1 to the model's context. */
  readonly tokens: number;
  /** Sequences (default 1); they share the parameters and never see each other. */
  readonly batch?: number;
  /** Also take one-hot `targets` and output the mean cross-entropy `loss`. */
  readonly loss?: boolean;
  readonly dtype?: DType;
}

export interface ModelGraph {
  /**
   * Inputs: `tokens` (one-hot, `[B*T, vocab]`, sequence-major rows), every parameter
   * under its documented name, and `targets` (one-hot, like `tokens`) with `loss`.
   * Outputs: `logits [B, T, vocab]`, and `loss []` with `loss`.
   */
  readonly graph: Graph;
  readonly parameters: readonly ModelParameterSpec[];
  readonly streams: number;
  readonly batch: number;
  readonly tokens: number;
}

/**
 * A whole model in the IR (design.md §1, §2.4), for the float64 reference:
 *
 *   e = onehot(tokens) @ embed.weight                               [R, C], R = B*T
 *   x = expand(e): n copies (repeat), times expand.scale (learned)   [R, n, C]
 *   for each layer l and block sublayer s (prefix layers.{l}.{s}.):
 *     u, y = the connection's sublayer graph (design.md §1) with
 *     F(u) = attention / mlp / identity of rmsNorm(u) * norm.weight
 *     x = y
 *   h = collapse(x): gated, sum, mean or first                       [R, C]
 *   logits = rmsNorm(h) * final_norm.weight @ W^T, W = lm_head.weight (or embed.weight when tied)
 *   loss = mean cross-entropy of logits against targets
 *
 * The connection maths is the sublayer graph itself (`buildSublayerGraph`, inlined once
 * per sublayer), so the model and `mhc run --connection` share it exactly.
 */
export function buildModelGraph(checked: CheckedProgram, model: CheckedModel, options: ModelGraphOptions): ModelGraph {
  const T = options.tokens;
  const B = options.batch ?? 1;
  if (!Number.isInteger(T) || T < 1 || T > model.context) throw new IrError(`model ${model.name}: ${T} tokens, expected 1 to the context ${model.context}`);
  if (!Number.isInteger(B) || B < 1) throw new IrError(`model ${model.name}: batch ${B} is not a positive integer`);
  const dtype = options.dtype ?? "f64";
  const b = new Builder(new Graph(), { dtype });
  const C = model.dim;
  const R = B * T;
  const n = modelStreams(model);
  const parameters = modelParameterSpecs(model);
  const inputs = new Map<string, Node>(parameters.map((p) => [p.name, b.input(p.name, p.shape)]));
  const param = (name: string): Node => {
    const node = inputs.get(name);
    if (!node) throw new IrError(`model ${model.name}: no parameter ${name}`);
    return node;
  };
  const tokens = b.input("tokens", [R, model.vocab]);

  // Embedding and expand.
  const embedded = b.matmul(tokens, param("embed.weight")); // [R, C]
  let x = b.broadcastTo(b.reshape(embedded, [R, 1, C]), [R, n, C]);
  if (model.expand === "learned") x = b.mul(x, param("expand.scale"));

  // The sublayers, each inside its connection.
  const graphs = new Map<CheckedConnection, Graph>();
  const sublayerGraph = (conn: CheckedConnection): Graph => {
    let g = graphs.get(conn);
    if (!g) {
      g = buildSublayerGraph(checked, conn, { hidden: C, dtype, sublayer: "input" }).graph;
      graphs.set(conn, g);
    }
    return g;
  };
  const block = sublayerConfigs(model);
  for (let l = 0; l < model.layers; l++) {
    block.forEach((sub, s) => {
      const prefix = `layers.${l}.${s}.`;
      const inliner = new Inliner(b, sublayerGraph(sub.connection), new Map([["T", R]]));
      inliner.bind("x", x);
      for (const p of connectionParameters(sub.connection, C)) inliner.bind(p.name, param(`${prefix}conn.${p.name}`));
      const u = inliner.output("u");
      inliner.bind("f", sublayerF(b, sub, u, prefix, param, model, B, T));
      x = inliner.output("y");
    });
  }

  // Collapse, final norm, head.
  const h = collapse(b, model, x, n, param);
  const normed = rmsNorm(b, h, param("final_norm.weight"), model.normEps);
  const head = param(model.tieEmbeddings ? "embed.weight" : "lm_head.weight"); // [V, C]
  const logits = b.matmul(normed, b.mT(head)); // [R, V]
  b.graph.output("logits", b.reshape(logits, [B, T, model.vocab]));
  if (options.loss) b.graph.output("loss", meanCrossEntropy(b, logits, b.input("targets", [R, model.vocab])));
  return { graph: b.graph, parameters, streams: n, batch: B, tokens: T };
}

/** F of one sublayer: its own RMSNorm (with weight), then attention, the MLP or nothing. */
function sublayerF(b: Builder, sub: SublayerConfig, u: Node, prefix: string, param: (name: string) => Node, model: CheckedModel, B: number, T: number): Node {
  const h = rmsNorm(b, u, param(`${prefix}norm.weight`), model.normEps);
  switch (sub.kind) {
    case "attention": {
      const w = (name: string) => param(`${prefix}attn.${name}`);
      return lowerAttention(b, h, { wq: w("wq"), wk: w("wk"), wv: w("wv"), wo: w("wo") }, { batch: B, tokens: T, heads: sub.heads, kvHeads: sub.kvHeads, causal: sub.causal });
    }
    case "mlp": {
      const up = b.matmul(h, param(`${prefix}mlp.w_in`));
      const hidden =
        sub.act === "swiglu"
          ? swiglu(b, b.matmul(h, param(`${prefix}mlp.w_gate`)), up)
          : sub.act === "gelu"
            ? geluTanh(b, up)
            : sub.act === "silu"
              ? silu(b, up)
              : b.relu(up);
      return b.matmul(hidden, param(`${prefix}mlp.w_out`));
    }
    case "identity":
      return h;
  }
}

/**
 * The final collapse of `x [R, n, C]` to `[R, C]` (design.md §1):
 *   sum: sum_i x_i;  mean: sum_i x_i / n;  first: x_0;
 *   gated: sum_i w_i x_i, w = sigmoid(alpha * (xf @ head.phi) / r + head.bias) + eps,
 *          xf = x flattened to [R, n*C], r = sqrt(mean(xf^2) + norm_eps).
 */
function collapse(b: Builder, model: CheckedModel, x: Node, n: number, param: (name: string) => Node): Node {
  const [R, C] = [x.shape[0] as number, model.dim];
  switch (model.collapse) {
    case "sum":
      return b.sum(x, [1]);
    case "mean":
      return b.mean(x, [1]);
    case "first":
      return b.reshape(b.slice(x, 1, 0, 1), [R, C]);
    case "gated": {
      const xf = b.reshape(x, [R, n * C]);
      const r = b.sqrt(b.add(b.mean(b.square(xf), [-1], true), model.normEps)); // [R, 1]
      const proj = b.div(b.matmul(xf, param("head.phi")), r); // [R, n]
      const w = b.add(b.sigmoid(b.add(b.mul(param("head.alpha"), proj), param("head.bias"))), COLLAPSE_GATE_EPS);
      return b.reshape(b.matmul(b.reshape(w, [R, 1, n]), x), [R, C]);
    }
  }
}

/** One-hot rows `[ids.length, vocab]` for token ids (the graph's `tokens` and `targets`). */
export function oneHot(ids: ArrayLike<number>, vocab: number): Tensor {
  const data = new Float64Array(ids.length * vocab);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new IrError(`token ${id} at ${i} is outside the vocabulary [0, ${vocab})`);
    data[i * vocab + id] = 1;
  }
  return { shape: [ids.length, vocab], data };
}
