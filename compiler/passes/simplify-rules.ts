import type { Node } from "../ir/node.js";
import { shapesEqual } from "../ir/shape.js";
import type { RewriteRule } from "./rewrite.js";

// Algebraic simplifications that are exact in IEEE arithmetic: each rewritten program
// computes bit-identical results (at most the sign of a zero differs, where noted),
// so interpreter comparisons at 1e-12 and fused/unfused goldens are unaffected.
// Rules that are only true in real arithmetic (x - x -> 0, exp(log x) -> x,
// x * 0 -> 0, reassociation) are deliberately absent.

/** The single value of a splat literal, if `node` is one. */
function splat(node: Node): number | undefined {
  if (node.op !== "const") return undefined;
  const value = node.attrs["value"] as readonly number[];
  return value.length === 1 ? value[0] : undefined;
}

/** `x` may stand for `node` only if it has the node's exact type (no broadcasting hidden). */
function sameType(node: Node, x: Node | undefined): Node | undefined {
  return x && x.dtype === node.dtype && shapesEqual(x.shape, node.shape) ? x : undefined;
}

function input(node: Node, i: number): Node {
  return node.inputs[i] as Node;
}

/** |c| = 2^k with 1/c a normal double: then x / c and x * (1/c) round identically. */
function isExactReciprocal(c: number): boolean {
  if (!Number.isFinite(c) || c === 0) return false;
  const k = Math.log2(Math.abs(c));
  return Number.isInteger(k) && k > -1022 && k < 1022;
}

function composePerms(inner: readonly number[], outer: readonly number[]): number[] {
  // transpose(transpose(x, p), q)[i] reads x's axis p[q[i]].
  return outer.map((q) => inner[q] as number);
}

export const SIMPLIFY_RULES: readonly RewriteRule[] = [
  { root: "add", law: "add(x, 0) -> x  (x + 0 is x, except -0 + 0 = +0)", apply: (n) => (splat(input(n, 1)) === 0 ? sameType(n, input(n, 0)) : undefined) },
  { root: "add", law: "add(0, x) -> x  (as above)", apply: (n) => (splat(input(n, 0)) === 0 ? sameType(n, input(n, 1)) : undefined) },
  { root: "sub", law: "sub(x, 0) -> x", apply: (n) => (splat(input(n, 1)) === 0 ? sameType(n, input(n, 0)) : undefined) },
  { root: "mul", law: "mul(x, 1) -> x", apply: (n) => (splat(input(n, 1)) === 1 ? sameType(n, input(n, 0)) : undefined) },
  { root: "mul", law: "mul(1, x) -> x", apply: (n) => (splat(input(n, 0)) === 1 ? sameType(n, input(n, 1)) : undefined) },
  { root: "div", law: "div(x, 1) -> x", apply: (n) => (splat(input(n, 1)) === 1 ? sameType(n, input(n, 0)) : undefined) },
  {
    root: "div",
    law: "div(x, c) -> mul(x, 1/c)  when |c| is a power of two (1/c exact, so both round the same)",
    apply: (n, b) => {
      const divisor = input(n, 1);
      const c = splat(divisor);
      if (c === undefined || c === 1 || !isExactReciprocal(c)) return undefined;
      return b.mul(input(n, 0), b.constant(1 / c, divisor.shape, divisor.dtype));
    },
  },
  { root: "neg", law: "neg(neg(x)) -> x", apply: (n) => (input(n, 0).op === "neg" ? input(input(n, 0), 0) : undefined) },
  { root: "where", law: "where(c, x, x) -> x  when x already has the result shape", apply: (n) => (input(n, 1) === input(n, 2) ? sameType(n, input(n, 1)) : undefined) },
  {
    root: "transpose",
    law: "transpose(x, identity) -> x",
    apply: (n) => ((n.attrs["perm"] as number[]).every((p, i) => p === i) ? input(n, 0) : undefined),
  },
  {
    root: "transpose",
    law: "transpose(transpose(x, p), q) -> transpose(x, p o q)",
    apply: (n, b) => {
      const inner = input(n, 0);
      if (inner.op !== "transpose") return undefined;
      return b.transpose(input(inner, 0), composePerms(inner.attrs["perm"] as number[], n.attrs["perm"] as number[]));
    },
  },
  { root: "reshape", law: "reshape(x, shape(x)) -> x", apply: (n) => sameType(n, input(n, 0)) },
  {
    root: "reshape",
    law: "reshape(reshape(x, s1), s2) -> reshape(x, s2)  (row-major order is kept by both)",
    apply: (n, b) => (input(n, 0).op === "reshape" ? b.reshape(input(input(n, 0), 0), n.shape) : undefined),
  },
  { root: "broadcast_to", law: "broadcast_to(x, shape(x)) -> x", apply: (n) => sameType(n, input(n, 0)) },
  { root: "cast", law: "cast(x : t, t) -> x", apply: (n) => sameType(n, input(n, 0)) },
  { root: "slice", law: "slice(x, axis, 0, dim) -> x  (the whole axis)", apply: (n) => sameType(n, input(n, 0)) },
  { root: "concat", law: "concat([x]) -> x", apply: (n) => (n.inputs.length === 1 ? input(n, 0) : undefined) },
];
