import type { Builder } from "../ir/builder.js";
import { isFloatDType } from "../ir/dtype.js";
import type { Node } from "../ir/node.js";
import type { OpName } from "../ir/op-names.js";
import { numel, positiveAxis, type Dim } from "../ir/shape.js";

/**
 * What a gradient rule gets: the forward node `y` (its inputs are `y.inputs`), the
 * cotangent `g` of `y` (same shape as `y`), and a builder on the graph being extended.
 */
export interface RuleContext {
  readonly b: Builder;
  readonly y: Node;
  readonly g: Node;
}

/**
 * Returns one cotangent per input of `y` (undefined = zero / not differentiable). A
 * result may have the broadcast shape of `y`; the engine sums it down to the input's
 * shape, so rules need not handle broadcasting.
 */
export type GradientRule = (ctx: RuleContext) => readonly (Node | undefined)[];

function x(y: Node, i: number): Node {
  return y.inputs[i] as Node;
}

/** The shape a reduction's result has with keepdims, to broadcast it back over `x`. */
function keptShape(y: Node): Dim[] {
  const input = x(y, 0);
  const rank = input.shape.length;
  const axes = new Set((y.attrs["axes"] as number[]).map((a) => positiveAxis(a, rank)));
  return input.shape.map((d, i) => (axes.has(i) ? 1 : d));
}

/** A reduction's result (or its cotangent) broadcast back to the input shape. */
function expandReduced(b: Builder, y: Node, value: Node): Node {
  return b.broadcastTo(b.reshape(value, keptShape(y)), x(y, 0).shape);
}

/** Number of elements a reduction combined, as a node (symbolic counts are summed ones). */
function reducedCount(b: Builder, y: Node): Node {
  const input = x(y, 0);
  const kept = keptShape(y);
  const counted = input.shape.filter((d, i) => kept[i] === 1 && d !== 1);
  const n = numel(counted);
  if (typeof n === "number") return b.scalar(n, input.dtype);
  return b.sum(b.ones(input.shape, input.dtype), y.attrs["axes"] as number[], true);
}

/** Gradient of amax/amin: shared equally among the elements that attain the extremum. */
function extremumRule({ b, y, g }: RuleContext): (Node | undefined)[] {
  const input = x(y, 0);
  const hit = b.cast(b.eq(input, expandReduced(b, y, y)), input.dtype);
  const ties = b.sum(hit, y.attrs["axes"] as number[], true);
  return [b.mul(expandReduced(b, y, g), b.div(hit, b.broadcastTo(ties, input.shape)))];
}

function noGradient(): (Node | undefined)[] {
  return [undefined, undefined];
}

/** One rule per op; the law each implements is written beside it (g = dL/dy). */
export const GRADIENT_RULES: Readonly<Record<OpName, GradientRule>> = {
  // Leaves have no inputs to propagate to.
  input: () => [],
  const: () => [],
  eye: () => [],

  neg: ({ b, g }) => [b.neg(g)], // y = -x: dx = -g
  exp: ({ b, y, g }) => [b.mul(g, y)], // y = e^x: dx = g y
  log: ({ b, y, g }) => [b.div(g, x(y, 0))], // y = log x: dx = g / x
  sigmoid: ({ b, y, g }) => [b.mul(g, b.mul(y, b.sub(1, y)))], // dx = g y (1 - y)
  tanh: ({ b, y, g }) => [b.mul(g, b.sub(1, b.square(y)))], // dx = g (1 - y^2)
  abs: ({ b, y, g }) => [b.mul(g, b.sign(x(y, 0)))], // dx = g sign(x) (0 at 0)
  sign: () => [undefined], // piecewise constant: dx = 0
  sqrt: ({ b, y, g }) => [b.div(b.mul(g, 0.5), y)], // dx = g / (2 sqrt x)
  rsqrt: ({ b, y, g }) => [b.mul(g, b.mul(-0.5, b.mul(y, b.square(y))))], // y = x^-1/2: dx = -g y^3 / 2
  square: ({ b, y, g }) => [b.mul(g, b.mul(2, x(y, 0)))], // dx = 2 g x
  relu: ({ b, y, g }) => [b.where(b.gt(x(y, 0), 0), g, 0)], // dx = g [x > 0]
  softplus: ({ b, y, g }) => [b.mul(g, b.sigmoid(x(y, 0)))], // dx = g sigmoid(x)
  recip: ({ b, y, g }) => [b.neg(b.mul(g, b.square(y)))], // y = 1/x: dx = -g y^2

  add: ({ g }) => [g, g], // da = g, db = g
  sub: ({ b, g }) => [g, b.neg(g)], // da = g, db = -g
  mul: ({ b, y, g }) => [b.mul(g, x(y, 1)), b.mul(g, x(y, 0))], // da = g b, db = g a
  div: ({ b, y, g }) => [b.div(g, x(y, 1)), b.neg(b.mul(g, b.div(y, x(y, 1))))], // da = g / b, db = -g a / b^2 = -g y / b
  max: ({ b, y, g }) => {
    const first = b.ge(x(y, 0), x(y, 1)); // da = g [a >= b], db = g [a < b]
    return [b.where(first, g, 0), b.where(first, 0, g)];
  },
  min: ({ b, y, g }) => {
    const first = b.le(x(y, 0), x(y, 1)); // da = g [a <= b], db = g [a > b]
    return [b.where(first, g, 0), b.where(first, 0, g)];
  },
  // y = a^b: da = g b a^(b-1), db = g log(a) y (defined for a > 0)
  pow: ({ b, y, g }) => [b.mul(g, b.mul(x(y, 1), b.pow(x(y, 0), b.sub(x(y, 1), 1)))), b.mul(g, b.mul(b.log(x(y, 0)), y))],

  // Comparisons are piecewise constant: no gradient to either side.
  gt: noGradient,
  ge: noGradient,
  lt: noGradient,
  le: noGradient,
  eq: noGradient,
  where: ({ b, y, g }) => [undefined, b.where(x(y, 0), g, 0), b.where(x(y, 0), 0, g)], // da = g [c], db = g [!c]

  sum: ({ b, y, g }) => [expandReduced(b, y, g)], // dx = broadcast(g)
  mean: ({ b, y, g }) => [b.div(expandReduced(b, y, g), reducedCount(b, y))], // dx = broadcast(g) / count
  amax: extremumRule, // dx = broadcast(g) [x == max] / #ties
  amin: extremumRule, // dx = broadcast(g) [x == min] / #ties
  // y = log sum e^x: dx = broadcast(g) e^(x - y) (= g softmax(x))
  logsumexp: ({ b, y, g }) => [b.mul(expandReduced(b, y, g), b.exp(b.sub(x(y, 0), expandReduced(b, y, y))))],
  // y = softmax(x): dx = y (g - sum(g y, axis))
  softmax: ({ b, y, g }) => [b.mul(y, b.sub(g, b.sum(b.mul(g, y), [y.attrs["axis"] as number], true)))],
  // C = A B: dA = g B^T, dB = A^T g (batch broadcasting summed by the engine)
  matmul: ({ b, y, g }) => [b.matmul(g, b.mT(x(y, 1))), b.matmul(b.mT(x(y, 0)), g)],

  transpose: ({ b, y, g }) => {
    const perm = y.attrs["perm"] as number[]; // dx = transpose(g, perm^-1)
    const inverse = new Array<number>(perm.length);
    perm.forEach((p, i) => (inverse[p] = i));
    return [b.transpose(g, inverse)];
  },
  reshape: ({ b, y, g }) => [b.reshape(g, x(y, 0).shape)], // dx = reshape(g, shape(x))
  broadcast_to: ({ g }) => [g], // dx = sum of g over broadcast axes (done by the engine)
  slice: ({ b, y, g }) => {
    // dx = g placed at [start, end) along axis, zeros elsewhere
    const input = x(y, 0);
    const axis = positiveAxis(y.attrs["axis"] as number, input.shape.length);
    const [start, end, size] = [y.attrs["start"] as number, y.attrs["end"] as number, input.shape[axis] as number];
    const zeros = (length: number): Node => b.zeros(input.shape.map((d, i) => (i === axis ? length : d)), input.dtype);
    const parts = [...(start > 0 ? [zeros(start)] : []), g, ...(end < size ? [zeros(size - end)] : [])];
    return [parts.length === 1 ? g : b.concat(parts, axis)];
  },
  concat: ({ b, y, g }) => {
    // dx_i = the slice of g that x_i filled
    const axis = y.attrs["axis"] as number;
    let start = 0;
    return y.inputs.map((input) => {
      const len = input.shape[positiveAxis(axis, input.shape.length)] as number;
      const part = b.slice(g, axis, start, start + len);
      start += len;
      return part;
    });
  },
  // dx = cast(g) back to x's dtype; integer and bool inputs get none
  cast: ({ b, y, g }) => [isFloatDType(x(y, 0).dtype) ? b.cast(g, x(y, 0).dtype) : undefined],
};
