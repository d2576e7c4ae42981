import type { Builder } from "../ir/builder.js";
import { irAssert } from "../ir/errors.js";
import type { Node } from "../ir/node.js";

/*
 * The transformer pieces of a model (design.md §2.4) as compositions of IR
 * primitives: the norms, activations, masked softmax, rotary embedding and the
 * loss. Each is written from its formula (in the comment above it), so the
 * interpreter, autodiff and any later code generator see only primitives.
 */

/** RMSNorm over the last axis with a learned weight: x / sqrt(mean(x^2) + eps) * w. */
export function rmsNorm(b: Builder, x: Node, weight: Node, eps: number): Node {
  const rms = b.sqrt(b.add(b.mean(b.square(x), [-1], true), eps));
  return b.mul(b.div(x, rms), weight);
}

/** GELU, tanh approximation (GPT-2's): 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
export function geluTanh(b: Builder, x: Node): Node {
  const cube = b.mul(b.square(x), x);
  const inner = b.mul(b.add(x, b.mul(cube, 0.044715)), Math.sqrt(2 / Math.PI));
  return b.mul(b.mul(x, 0.5), b.add(b.tanh(inner), 1));
}

/** SiLU (swish): x sigmoid(x). */
export function silu(b: Builder, x: Node): Node {
  return b.mul(x, b.sigmoid(x));
}

/** SwiGLU's hidden activation: silu(gate) * up, with gate = h W_gate and up = h W_in. */
export function swiglu(b: Builder, gate: Node, up: Node): Node {
  return b.mul(silu(b, gate), up);
}

/** `[0, 1, ..., count - 1]` reshaped to `shape` (a row or a column of positions). */
function positions(b: Builder, count: number, shape: readonly number[]): Node {
  return b.constant(Array.from({ length: count }, (_, i) => i), shape);
}

/**
 * Softmax over the last axis of attention scores `[..., T, T]` (query i, key j).
 * Causal: key j is visible to query i only when j <= i; hidden scores become -inf,
 * so their weight is exactly 0 and each row is normalised over the visible keys
 * (every row sees at least its own position).
 */
export function attentionSoftmax(b: Builder, scores: Node, causal: boolean): Node {
  if (!causal) return b.softmax(scores, -1);
  const T = scores.shape[scores.shape.length - 1];
  irAssert(typeof T === "number" && scores.shape[scores.shape.length - 2] === T, "attentionSoftmax: scores must end in a concrete [T, T]");
  const visible = b.ge(positions(b, T, [T, 1]), positions(b, T, [1, T])); // [T, T]: i >= j
  return b.softmax(b.where(visible, scores, -Infinity), -1);
}

/**
 * Rotary position embedding of `x [..., T, D]` at positions 0..T-1 (the rotate-half
 * layout): channel j < D/2 is paired with channel j + D/2, and the pair is rotated by
 * the angle p * base^(-2j / D) at position p:
 *   x'_j       = x_j cos - x_{j+D/2} sin
 *   x'_{j+D/2} = x_{j+D/2} cos + x_j sin
 * An odd D has no pairing: x is returned unrotated.
 */
export function rotaryEmbedding(b: Builder, x: Node, base: number): Node {
  const rank = x.shape.length;
  const [T, D] = [x.shape[rank - 2], x.shape[rank - 1]];
  irAssert(typeof T === "number" && typeof D === "number", "rotaryEmbedding: x must end in a concrete [T, D]");
  if (D % 2 !== 0) return x;
  const half = D / 2;
  const cos: number[] = [];
  const sin: number[] = [];
  for (let p = 0; p < T; p++) {
    for (let j = 0; j < half; j++) {
      const angle = p * Math.pow(base, (-2 * j) / D);
      cos.push(Math.cos(angle));
      sin.push(Math.sin(angle));
    }
  }
  const c = b.constant(cos, [T, half]);
  const s = b.constant(sin, [T, half]);
  const first = b.slice(x, -1, 0, half);
  const second = b.slice(x, -1, half, D);
  const rotatedFirst = b.sub(b.mul(first, c), b.mul(second, s));
  const rotatedSecond = b.add(b.mul(second, c), b.mul(first, s));
  return b.concat([rotatedFirst, rotatedSecond], -1);
}

/**
 * Mean cross-entropy (nats) of `logits [R, V]` against one-hot `targets [R, V]`:
 * mean over rows of logsumexp(logits) - logits[target].
 */
export function meanCrossEntropy(b: Builder, logits: Node, targets: Node): Node {
  const picked = b.sum(b.mul(logits, targets), [-1]);
  return b.mean(b.sub(b.logsumexp(logits, [-1]), picked));
}
