/**
 * The elementwise builtins on compile-time numbers: `exp(1.0)` is folded by
 * the checker (to know a value) and by the lowering (to emit a constant), with
 * one definition so the two cannot disagree.
 */
export const unaryFolds = {
  exp: Math.exp,
  log: Math.log,
  sigmoid: (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  tanh: Math.tanh,
  abs: Math.abs,
  sqrt: Math.sqrt,
  square: (x: number) => x * x,
  relu: (x: number) => Math.max(x, 0),
  softplus: (x: number) => (x > 30 ? x : Math.log1p(Math.exp(x))),
} as const satisfies Record<string, (x: number) => number>;

export type UnaryBuiltin = keyof typeof unaryFolds;

export function isUnaryBuiltin(name: string): name is UnaryBuiltin {
  return Object.hasOwn(unaryFolds, name);
}
