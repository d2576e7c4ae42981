import * as P from "./poly.js";
import type { Poly } from "./poly.js";

/**
 * What sema knows about an expression. Compile-time scalars carry their value
 * when it is known (integers always do, symbolically: an unknown integer is an
 * atom); tensors carry their symbolic shape and whether they depend on the
 * constraint's logits (a constraint whose result does not gets no projection).
 * `error` poisons: every check on it stays quiet, so one mistake is reported once.
 */
export type Shape = readonly Poly[];

export type Value =
  | { readonly kind: "int"; readonly value: Poly }
  | { readonly kind: "float"; readonly value?: number }
  | { readonly kind: "bool"; readonly value?: boolean }
  | { readonly kind: "tensor"; readonly shape: Shape; readonly usesLogits: boolean }
  | { readonly kind: "list"; readonly items: readonly Value[] }
  | { readonly kind: "error" };

export const ERROR: Value = { kind: "error" };

export function intValue(value: Poly): Value {
  return { kind: "int", value };
}

export function floatValue(value?: number): Value {
  return value === undefined ? { kind: "float" } : { kind: "float", value };
}

export function tensor(shape: Shape, usesLogits = false): Value {
  return { kind: "tensor", shape, usesLogits };
}

/** The known value of a compile-time number, or undefined (unknown or not a number). */
export function numberValue(v: Value): number | undefined {
  if (v.kind === "int") return P.constantValue(v.value);
  if (v.kind === "float") return v.value;
  return undefined;
}

export function isNumeric(v: Value): boolean {
  return v.kind === "int" || v.kind === "float" || v.kind === "tensor";
}

export function usesLogits(v: Value): boolean {
  if (v.kind === "tensor") return v.usesLogits;
  if (v.kind === "list") return v.items.some(usesLogits);
  return false;
}

export function showShape(shape: Shape): string {
  return `[${shape.map(P.show).join(", ")}]`;
}

/** How a value is named in messages: `int`, `float`, `a [n, n] tensor`. */
export function describe(v: Value): string {
  switch (v.kind) {
    case "int":
      return "`int`";
    case "float":
      return "`float`";
    case "bool":
      return "`bool`";
    case "tensor":
      return v.shape.length === 0 ? "a scalar tensor" : `a ${showShape(v.shape)} tensor`;
    case "list":
      return "a list";
    case "error":
      return "an invalid value";
  }
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => P.equal(d, b[i]!));
}

function isOne(d: Poly): boolean {
  return P.constantValue(d) === 1;
}

/**
 * numpy broadcasting over symbolic dimensions: aligned from the right, two
 * dimensions agree when they are the same polynomial or one of them is 1.
 * `[n, n]` against `[n, 1]` works for every `n`; `[n, n]` against `[n, 2]`
 * does not, because it would work only for `n = 2`.
 */
export function broadcastShapes(a: Shape, b: Shape): Shape | undefined {
  const rank = Math.max(a.length, b.length);
  const out: Poly[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? P.constant(1);
    const db = b[b.length - rank + i] ?? P.constant(1);
    if (P.equal(da, db) || isOne(db)) out.push(da);
    else if (isOne(da)) out.push(db);
    else return undefined;
  }
  return out;
}

/** The number of elements of a shape, symbolically. */
export function elementCount(shape: Shape): Poly {
  return shape.reduce<Poly>((acc, d) => P.mul(acc, d), P.constant(1));
}

/** A shape whose every dimension is a known integer, or undefined. */
export function concreteShape(shape: Shape): number[] | undefined {
  const out: number[] = [];
  for (const d of shape) {
    const v = P.constantValue(d);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}
