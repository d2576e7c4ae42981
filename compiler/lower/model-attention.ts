import type { Builder } from "../ir/builder.js";
import type { Node } from "../ir/node.js";
import { attentionSoftmax, rotaryEmbedding } from "./model-ops.js";

/** RoPE base: the angle of channel pair j at position p is p * ROPE_BASE^(-2j / D). */
export const ROPE_BASE = 10000;

export interface AttentionShape {
  /** Sequences in the batch and tokens per sequence: rows of `h` are `B * T`, sequence-major. */
  readonly batch: number;
  readonly tokens: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly causal: boolean;
}

export interface AttentionWeights {
  /** `[C, C]`, `[C, kv]`, `[C, kv]`, `[C, C]` with `kv = D * kvHeads`. */
  readonly wq: Node;
  readonly wk: Node;
  readonly wv: Node;
  readonly wo: Node;
}

/**
 * Multi-head attention of `h [B*T, C]` (design.md §2.4's `attention(heads, kv_heads,
 * causal)`), head size `D = C / heads`:
 *
 *   q = h wq, k = h wk, v = h wv, split into heads of D channels (head-major columns)
 *   q, k rotated by RoPE at positions 0..T-1 of each sequence
 *   query head i reads key/value head floor(i / g), g = heads / kv_heads (grouped-query)
 *   o_i = softmax(q_i k^T / sqrt(D), causal mask) v
 *   out = concat_i(o_i) wo
 *
 * The grouping is expressed by viewing the query heads as `[kv_heads, g]`, so each group
 * of g query heads meets its one key/value head through matmul broadcasting.
 */
export function lowerAttention(b: Builder, h: Node, w: AttentionWeights, shape: AttentionShape): Node {
  const { batch: B, tokens: T, heads, kvHeads, causal } = shape;
  const C = h.shape[1] as number;
  const D = C / heads;
  const g = heads / kvHeads;
  // [B*T, count*D] -> [B, count, T, D]
  const split = (x: Node, count: number): Node => b.transpose(b.reshape(x, [B, T, count, D]), [0, 2, 1, 3]);
  const q = rotaryEmbedding(b, split(b.matmul(h, w.wq), heads), ROPE_BASE);
  const k = rotaryEmbedding(b, split(b.matmul(h, w.wk), kvHeads), ROPE_BASE);
  const v = split(b.matmul(h, w.wv), kvHeads);
  const qGrouped = b.reshape(q, [B, kvHeads, g, T, D]);
  const kGroup = b.reshape(k, [B, kvHeads, 1, T, D]);
  const vGroup = b.reshape(v, [B, kvHeads, 1, T, D]);
  const scores = b.div(b.matmul(qGrouped, b.mT(kGroup)), Math.sqrt(D)); // [B, kv, g, T, T]
  const o = b.matmul(attentionSoftmax(b, scores, causal), vGroup); // [B, kv, g, T, D]
  const merged = b.reshape(b.transpose(b.reshape(o, [B, heads, T, D]), [0, 2, 1, 3]), [B * T, C]);
  return b.matmul(merged, w.wo);
}
