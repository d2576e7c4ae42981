/**
 * The tiny comparison models of examples/tiny.mhc written by hand with tf ops, as a
 * tfjs user would write them from the papers (design.md §1), to measure the generated
 * code against. Same shapes and parameter names as the generated model modules, so the
 * same parameters can be fed to both and the losses compared.
 *
 *   residual  x = x + F(x), n = 1: the plain pre-norm transformer
 *   hc        Hyper-Connections: per-stream RMS norm and projections, tanh, no constraint
 *   mhc       mHC: flat RMS norm over n*C, sigmoid pre/post, Sinkhorn-Knopp res (20 iterations)
 *
 * The transformer around the connection: byte embedding (one-hot @ table: tfjs-backend-wasm
 * has no kernel for the gradient of gather, and its OneHot kernel writes int32 bits whatever
 * dtype is asked for, so the one-hot rows are cast), causal multi-head attention with rotate-half
 * RoPE, GELU MLP (tanh form), final RMS norm, untied LM head. Constant tables (mask, RoPE)
 * are made once and reused. Everything runs on the tfjs tape (products with weights
 * optionally through a custom gradient with explicit transposes, `explicitTransposes`);
 * the optimiser is `tf.train.adam`.
 */
import * as tf from "@tensorflow/tfjs-core";

export type Connection = "residual" | "hc" | "mhc";

export interface HandwrittenConfig {
  readonly connection: Connection;
  readonly vocab: number;
  readonly dim: number;
  readonly context: number;
  readonly layers: number;
  readonly heads: number;
  readonly hidden: number;
  /** Streams (1 for the residual). */
  readonly n: number;
  readonly normEps: number;
  /** mHC: Sinkhorn iterations; HC and mHC: the connection's norm eps and the maps' eps. */
  readonly iters: number;
  readonly eps: number;
  /**
   * Products with weights through a custom gradient with explicit transposes (what the
   * generated models do on wasm, where transposed matMul operands are slow); otherwise
   * plain tf.matMul with tfjs's own gradient, as most tfjs code is written.
   */
  readonly explicitTransposes?: boolean;
}

type Params = Readonly<Record<string, tf.Tensor>>;

export interface HandwrittenModel {
  loss(params: Params, tokens: tf.Tensor2D): tf.Scalar;
  dispose(): void;
}

/** A hand-written model with its constant tables for sequences of `config.context` tokens. */
export function handwrittenModel(config: HandwrittenConfig): HandwrittenModel {
  const { vocab: V, dim: C, heads: H, n, normEps } = config;
  const D = C / H;
  const T = config.context;
  const half = D / 2;

  // Tables, kept across calls.
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9));
  const angles = tf.tidy(() => {
    const pos = tf.reshape(tf.range(0, T, 1, "float32"), [T, 1]);
    const freq = tf.exp(tf.mul(tf.range(0, half, 1, "float32"), -Math.log(10000) * (2 / D)));
    const a = tf.mul(pos, tf.reshape(freq, [1, half]));
    return tf.concat([a, a], 1);
  });
  const cos = tf.cos(angles);
  const sin = tf.sin(angles);
  angles.dispose();

  // x [rows, in] @ W [in, out], and x @ W^T for W [out, in] (the LM head).
  const denseExplicit = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return { value: tf.matMul(x, w), gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws!)), tf.matMul(tf.transpose(xs!), dy as tf.Tensor2D)] };
  });
  const denseTExplicit = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, w]);
    return { value: tf.matMul(x, w, false, true), gradFunc: (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, ws!), tf.matMul(tf.transpose(dy), xs!)] };
  });
  const dense = (x: tf.Tensor, w: tf.Tensor): tf.Tensor2D => (config.explicitTransposes ? denseExplicit(x, w) : tf.matMul(x, w)) as tf.Tensor2D;
  const denseT = (x: tf.Tensor, w: tf.Tensor): tf.Tensor2D => (config.explicitTransposes ? denseTExplicit(x, w) : tf.matMul(x, w, false, true)) as tf.Tensor2D;

  const rms = (x: tf.Tensor, w: tf.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), normEps))), w);
  const rope = (x: tf.Tensor4D) => {
    const [x1, x2] = tf.split(x, 2, 3);
    return tf.add(tf.mul(x, cos), tf.mul(tf.concat([tf.neg(x2!), x1!], 3), sin));
  };
  const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI))), 1));

  function attention(p: Params, pre: string, h: tf.Tensor2D, B: number): tf.Tensor2D {
    const heads = (w: string) => tf.transpose(tf.reshape(dense(h, p[pre + w]!), [B, T, H, D]), [0, 2, 1, 3]) as tf.Tensor4D;
    const q = rope(heads("attn.wq"));
    const k = rope(heads("attn.wk"));
    const v = heads("attn.wv");
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), mask);
    const o = tf.matMul(tf.softmax(scores), v);
    return dense(tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B * T, C]), p[pre + "attn.wo"]!);
  }
  const mlp = (p: Params, pre: string, h: tf.Tensor2D) => dense(gelu(dense(h, p[pre + "mlp.w_in"]!)), p[pre + "mlp.w_out"]!);
  const F = (p: Params, pre: string, s: number, u: tf.Tensor2D, B: number) => {
    const h = rms(u, p[pre + "norm.weight"]!) as tf.Tensor2D;
    return s === 0 ? attention(p, pre, h, B) : mlp(p, pre, h);
  };

  /** mHC around F: x [N, n, C] -> [N, n, C]. */
  function mhc(p: Params, pre: string, x: tf.Tensor3D, f: (u: tf.Tensor2D) => tf.Tensor2D): tf.Tensor3D {
    const N = x.shape[0];
    const c = (name: string) => p[pre + "conn." + name]!;
    const xf = tf.reshape(x, [N, n * C]);
    const r = tf.sqrt(tf.add(tf.mean(tf.square(xf), 1, true), config.eps));
    const alpha = c("alpha");
    const logits = (slot: string, i: number) => tf.add(tf.mul(tf.div(dense(xf, c("phi_" + slot)), r), tf.slice(alpha, [i], [1])), c("bias_" + slot));
    const hPre = tf.add(tf.sigmoid(logits("pre", 0)), config.eps);
    const hPost = tf.mul(tf.sigmoid(logits("post", 1)), 2);
    let M = tf.add(tf.transpose(tf.softmax(tf.transpose(tf.reshape(logits("res", 2), [N, n, n]), [0, 2, 1])), [0, 2, 1]), config.eps);
    M = tf.div(M, tf.add(tf.sum(M, 2, true), config.eps));
    for (let i = 1; i < config.iters; i++) {
      M = tf.div(M, tf.add(tf.sum(M, 1, true), config.eps));
      M = tf.div(M, tf.add(tf.sum(M, 2, true), config.eps));
    }
    const u = tf.reshape(tf.matMul(tf.reshape(hPre, [N, 1, n]), x), [N, C]) as tf.Tensor2D;
    return tf.add(tf.matMul(M, x), tf.mul(tf.reshape(hPost, [N, n, 1]), tf.reshape(f(u), [N, 1, C]))) as tf.Tensor3D;
  }

  /** Hyper-Connections around F: per-stream norm and projections (theta [C, k/n]), tanh. */
  function hc(p: Params, pre: string, x: tf.Tensor3D, f: (u: tf.Tensor2D) => tf.Tensor2D): tf.Tensor3D {
    const N = x.shape[0];
    const c = (name: string) => p[pre + "conn." + name]!;
    const r = tf.sqrt(tf.add(tf.mean(tf.square(x), 2, true), config.eps)); // [N, n, 1]
    const alpha = c("alpha");
    // x [N, n, C] @ theta [C, m] as one 2-D product (tfjs's matMul gradient does not reduce a broadcast batch)
    const project = (slot: string) => {
      const theta = c("phi_" + slot);
      return tf.reshape(dense(tf.reshape(x, [N * n, C]), theta), [N, n, theta.shape[1]!]);
    };
    const dynamic = (slot: string, i: number) => tf.mul(tf.tanh(tf.div(project(slot), r)), tf.slice(alpha, [i], [1]));
    const hPre = tf.add(tf.reshape(dynamic("pre", 0), [N, n]), c("bias_pre"));
    const hPost = tf.add(tf.reshape(dynamic("post", 1), [N, n]), c("bias_post"));
    // stream i drives column i of H_res
    const hRes = tf.add(tf.transpose(dynamic("res", 2), [0, 2, 1]), tf.reshape(c("bias_res"), [n, n]));
    const u = tf.reshape(tf.matMul(tf.reshape(hPre, [N, 1, n]), x), [N, C]) as tf.Tensor2D;
    return tf.add(tf.matMul(hRes, x), tf.mul(tf.reshape(hPost, [N, n, 1]), tf.reshape(f(u), [N, 1, C]))) as tf.Tensor3D;
  }

  function logits(p: Params, tokens: tf.Tensor2D): tf.Tensor2D {
    const B = tokens.shape[0];
    const e = dense(tf.cast(tf.oneHot(tf.reshape(tokens, [B * T]) as tf.Tensor1D, V), "float32"), p["embed.weight"]!);
    let h: tf.Tensor2D;
    if (config.connection === "residual") {
      h = e;
      for (let l = 0; l < config.layers; l++) for (const s of [0, 1]) h = tf.add(h, F(p, `layers.${l}.${s}.`, s, h, B));
    } else {
      let x = tf.tile(tf.reshape(e, [B * T, 1, C]), [1, n, 1]) as tf.Tensor3D;
      const connect = config.connection === "mhc" ? mhc : hc;
      for (let l = 0; l < config.layers; l++) {
        for (const s of [0, 1]) {
          const pre = `layers.${l}.${s}.`;
          x = connect(p, pre, x, (u) => F(p, pre, s, u, B));
        }
      }
      if (config.connection === "hc") h = tf.sum(x, 1);
      else {
        // gated collapse: w = sigmoid(alpha (xf @ phi) / r + bias) + eps
        const xf = tf.reshape(x, [B * T, n * C]);
        const r = tf.sqrt(tf.add(tf.mean(tf.square(xf), 1, true), normEps));
        const w = tf.add(tf.sigmoid(tf.add(tf.mul(p["head.alpha"]!, tf.div(dense(xf, p["head.phi"]!), r)), p["head.bias"]!)), 1e-6);
        h = tf.sum(tf.mul(x, tf.reshape(w, [B * T, n, 1])), 1);
      }
    }
    return denseT(rms(h, p["final_norm.weight"]!), p["lm_head.weight"]!);
  }

  return {
    loss(p, tokens) {
      return tf.tidy(() => {
        const B = tokens.shape[0];
        const input = tf.slice(tokens, [0, 0], [B, T]);
        const target = tf.reshape(tf.slice(tokens, [0, 1], [B, T]), [B * T]) as tf.Tensor1D;
        const z = logits(p, input as tf.Tensor2D);
        const picked = tf.sum(tf.mul(z, tf.cast(tf.oneHot(target, V), "float32")), 1);
        return tf.mean(tf.sub(tf.logSumExp(z, 1), picked)) as tf.Scalar;
      });
    },
    dispose() {
      tf.dispose([mask, cos, sin]);
    },
  };
}
