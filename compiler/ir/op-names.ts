/**
 * Every primitive op of the IR, grouped by purpose. Interpreter, autodiff and code
 * generators see only these; composite builtins (rowsum, softmax_cols, combine, norm, ...)
 * are expanded by the builder helpers.
 */
export const OP_NAMES = [
  // leaves and constructors
  "input", "const", "eye",
  // elementwise unary
  "neg", "exp", "log", "sigmoid", "tanh", "abs", "sign", "sqrt", "rsqrt", "square", "relu", "softplus", "recip",
  // elementwise binary arithmetic
  "add", "sub", "mul", "div", "max", "min", "pow",
  // comparisons (result bool) and selection
  "gt", "ge", "lt", "le", "eq", "where",
  // reductions over an axis list
  "sum", "mean", "amax", "amin", "logsumexp",
  // normalisation over one axis
  "softmax",
  // contraction
  "matmul",
  // movement
  "transpose", "reshape", "broadcast_to", "slice", "concat",
  // conversion
  "cast",
] as const;

export type OpName = (typeof OP_NAMES)[number];

export function isOpName(name: string): name is OpName {
  return (OP_NAMES as readonly string[]).includes(name);
}
