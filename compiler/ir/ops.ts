import type { AttrSpec, OpDef, Trait } from "./op-def.js";
import type { OpName } from "./op-names.js";
import * as rule from "./infer-rules.js";

export type { OpDef, Trait, TensorType, AttrSpec, InferContext } from "./op-def.js";

const NO_ATTRS: Readonly<Record<string, AttrSpec>> = {};
const REDUCTION_ATTRS = { axes: { kind: "ints" }, keepdims: { kind: "bool", default: false } } as const;

function unary(name: OpName, doc: string): OpDef {
  return { name, doc, traits: ["elementwise", "unary", "pure"], arity: 1, attrs: NO_ATTRS, declares: "none", infer: rule.unaryFloat };
}

function binary(name: OpName, doc: string): OpDef {
  return { name, doc, traits: ["elementwise", "binary", "pure"], arity: 2, attrs: NO_ATTRS, declares: "none", infer: rule.binaryFloat };
}

function compare(name: OpName, doc: string): OpDef {
  const traits: Trait[] = ["elementwise", "binary", "comparison", "pure"];
  return { name, doc, traits, arity: 2, attrs: NO_ATTRS, declares: "none", infer: rule.comparison };
}

function reduce(name: OpName, doc: string): OpDef {
  const traits: Trait[] = ["reduction", "pure"];
  return { name, doc, traits, arity: 1, attrs: REDUCTION_ATTRS, declares: "none", canonicalize: rule.canonicalizeReduction, infer: rule.reduction };
}

/** The op table: one entry per primitive, in `OP_NAMES` order. */
export const OPS: Readonly<Record<OpName, OpDef>> = {
  input: {
    name: "input", doc: "a named graph input (logits, parameters, activations); type declared",
    traits: ["leaf", "pure"], arity: 0, attrs: { name: { kind: "string" } }, declares: "both", infer: rule.inputLeaf,
  },
  const: {
    name: "const", doc: "a literal tensor, row-major `value` (one value = splat over the shape)",
    traits: ["leaf", "pure"], arity: 0, attrs: { value: { kind: "numbers" } }, declares: "both",
    canonicalize: rule.canonicalizeConst, infer: rule.constLeaf,
  },
  eye: {
    name: "eye", doc: "the identity matrix of the declared concrete shape [k, k]",
    traits: ["leaf", "pure"], arity: 0, attrs: NO_ATTRS, declares: "both", infer: rule.eye,
  },

  neg: unary("neg", "negation, -x"),
  exp: unary("exp", "exponential, e^x"),
  log: unary("log", "natural logarithm"),
  sigmoid: unary("sigmoid", "1 / (1 + e^-x), evaluated without overflow"),
  tanh: unary("tanh", "hyperbolic tangent"),
  abs: unary("abs", "absolute value, |x|"),
  sign: unary("sign", "-1, 0 or 1 (0 at 0); its derivative is zero"),
  sqrt: unary("sqrt", "square root"),
  rsqrt: unary("rsqrt", "1 / sqrt(x)"),
  square: unary("square", "x * x"),
  relu: unary("relu", "max(x, 0)"),
  softplus: unary("softplus", "log(1 + e^x), evaluated as max(x, 0) + log1p(e^-|x|)"),
  recip: unary("recip", "1 / x"),

  add: binary("add", "a + b, numpy broadcasting"),
  sub: binary("sub", "a - b, numpy broadcasting"),
  mul: binary("mul", "a * b, numpy broadcasting"),
  div: binary("div", "a / b, numpy broadcasting"),
  max: binary("max", "elementwise maximum (the gradient goes to a on ties)"),
  min: binary("min", "elementwise minimum (the gradient goes to a on ties)"),
  pow: binary("pow", "a ^ b (b's gradient needs a > 0)"),

  gt: compare("gt", "a > b as bool"),
  ge: compare("ge", "a >= b as bool"),
  lt: compare("lt", "a < b as bool"),
  le: compare("le", "a <= b as bool"),
  eq: compare("eq", "a == b as bool"),
  where: {
    name: "where", doc: "cond ? a : b elementwise, all three broadcast",
    traits: ["elementwise", "pure"], arity: 3, attrs: NO_ATTRS, declares: "none", infer: rule.where,
  },

  sum: reduce("sum", "sum over `axes`"),
  mean: reduce("mean", "arithmetic mean over `axes`"),
  amax: reduce("amax", "maximum over `axes` (the gradient is shared among ties)"),
  amin: reduce("amin", "minimum over `axes` (the gradient is shared among ties)"),
  logsumexp: reduce("logsumexp", "log(sum(exp(x))) over `axes`, max-shifted"),

  softmax: {
    name: "softmax", doc: "exp(x - max) / sum(exp(x - max)) along `axis`",
    traits: ["normalization", "pure"], arity: 1, attrs: { axis: { kind: "int" } }, declares: "none",
    canonicalize: rule.canonicalizeAxis, infer: rule.softmax,
  },
  matmul: {
    name: "matmul", doc: "[..., m, k] @ [..., k, n] -> [..., m, n], batch dims broadcast",
    traits: ["contraction", "pure"], arity: 2, attrs: NO_ATTRS, declares: "none", infer: rule.matmul,
  },

  transpose: {
    name: "transpose", doc: "permute axes: result axis i is input axis perm[i]",
    traits: ["movement", "pure"], arity: 1, attrs: { perm: { kind: "ints" } }, declares: "none", infer: rule.transpose,
  },
  reshape: {
    name: "reshape", doc: "same row-major elements, declared shape with the same element count",
    traits: ["movement", "pure"], arity: 1, attrs: NO_ATTRS, declares: "shape", infer: rule.reshape,
  },
  broadcast_to: {
    name: "broadcast_to", doc: "numpy broadcast to the declared shape",
    traits: ["movement", "pure"], arity: 1, attrs: NO_ATTRS, declares: "shape", infer: rule.broadcastTo,
  },
  slice: {
    name: "slice", doc: "elements [start, end) along one concrete `axis`",
    traits: ["movement", "pure"], arity: 1, attrs: { axis: { kind: "int" }, start: { kind: "int" }, end: { kind: "int" } },
    declares: "none", canonicalize: rule.canonicalizeAxis, infer: rule.slice,
  },
  concat: {
    name: "concat", doc: "join inputs along one concrete `axis`",
    traits: ["movement", "pure"], arity: { min: 1 }, attrs: { axis: { kind: "int" } }, declares: "none",
    canonicalize: rule.canonicalizeAxis, infer: rule.concat,
  },

  cast: {
    name: "cast", doc: "convert to the declared dtype (rounds to f32/bf16, truncates to i32, x != 0 to bool)",
    traits: ["elementwise", "unary", "conversion", "pure"], arity: 1, attrs: NO_ATTRS, declares: "dtype", infer: rule.cast,
  },
};

export function opDef(name: OpName): OpDef {
  return OPS[name];
}

export function hasTrait(op: OpName, trait: Trait): boolean {
  return OPS[op].traits.includes(trait);
}
