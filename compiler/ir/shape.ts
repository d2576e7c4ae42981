import { IrError } from "./errors.js";

/**
 * One dimension of a shape: a concrete size, or a symbolic size. Symbolic sizes are
 * monomials in canonical form: an optional integer coefficient followed by symbol names
 * in sorted order, joined by `*` ("T", "C", "4*C", "C*T"). Products are enough because
 * the only symbolic arithmetic the sublayer graph needs is flattening (`[T, n, C]` to
 * `[T, n*C]`); keeping them canonical makes dimension equality plain string equality.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Monomial {
  readonly coefficient: number;
  readonly symbols: readonly string[];
}

function toMonomial(dim: Dim): Monomial {
  if (typeof dim === "number") return { coefficient: dim, symbols: [] };
  let coefficient = 1;
  const symbols: string[] = [];
  for (const factor of dim.split("*")) {
    const f = factor.trim();
    if (/^[0-9]+$/.test(f)) coefficient *= Number(f);
    else if (SYMBOL.test(f)) symbols.push(f);
    else throw new IrError(`malformed symbolic dimension "${dim}"`);
  }
  return { coefficient, symbols: symbols.sort() };
}

function fromMonomial(m: Monomial): Dim {
  if (m.symbols.length === 0 || m.coefficient === 0) return m.coefficient;
  const symbols = m.symbols.join("*");
  return m.coefficient === 1 ? symbols : `${m.coefficient}*${symbols}`;
}

/** The canonical form of a dimension written as text or built by hand ("C*4" -> "4*C"). */
export function canonicalDim(dim: Dim): Dim {
  if (typeof dim === "number") {
    if (!Number.isInteger(dim) || dim < 0) throw new IrError(`dimension ${dim} is not a non-negative integer`);
    return dim;
  }
  return fromMonomial(toMonomial(dim));
}

export function isSymbolicDim(dim: Dim): dim is string {
  return typeof dim === "string";
}

export function isConcreteShape(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

export function mulDims(a: Dim, b: Dim): Dim {
  const ma = toMonomial(a);
  const mb = toMonomial(b);
  return fromMonomial({ coefficient: ma.coefficient * mb.coefficient, symbols: [...ma.symbols, ...mb.symbols].sort() });
}

/** Number of elements, symbolic when any dimension is. */
export function numel(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => mulDims(acc, d), 1);
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Numpy broadcasting of two shapes, aligned from the right. A symbolic dimension only
 * matches itself or 1: `T` against `4` cannot be proven compatible, so it is rejected.
 */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new IrError(`cannot broadcast ${formatShape(b)} against ${formatShape(a)}`);
  }
  return out;
}

/** Whether `from` can be broadcast to exactly `to` (numpy `broadcast_to`). */
export function canBroadcastTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  const offset = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[offset + i]);
}

/** An axis counted from the end (`-1` is the last), the canonical form in attrs. */
export function negativeAxis(axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new IrError(`axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis : axis - rank;
}

export function positiveAxis(axis: number, rank: number): number {
  return negativeAxis(axis, rank) + rank;
}

/** Binds symbols to sizes; used by the interpreter to turn declared shapes into real ones. */
export type DimBindings = Map<string, number>;

export function evalDim(dim: Dim, bindings: DimBindings): number {
  if (typeof dim === "number") return dim;
  const m = toMonomial(dim);
  let value = m.coefficient;
  for (const s of m.symbols) {
    const v = bindings.get(s);
    if (v === undefined) throw new IrError(`symbolic dimension "${s}" is not bound`);
    value *= v;
  }
  return value;
}

/**
 * Binds the symbols of `declared` from an actual shape. A plain symbol binds directly; a
 * monomial with exactly one unbound symbol is solved by division. Returns an error
 * message, or undefined on success.
 */
export function bindShape(declared: Shape, actual: readonly number[], bindings: DimBindings): string | undefined {
  if (declared.length !== actual.length) return `rank ${actual.length} does not match declared ${formatShape(declared)}`;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < declared.length; i++) {
      const d = declared[i] as Dim;
      const a = actual[i] as number;
      if (typeof d === "number") {
        if (d !== a) return `dimension ${i} is ${a}, expected ${d}`;
        continue;
      }
      const m = toMonomial(d);
      const unbound = m.symbols.filter((s) => !bindings.has(s));
      if (unbound.length === 0) {
        const expected = evalDim(d, bindings);
        if (expected !== a) return `dimension ${i} is ${a}, but ${d} = ${expected}`;
      } else if (new Set(unbound).size === 1 && unbound.length === 1) {
        const known = evalDim(fromMonomial({ coefficient: m.coefficient, symbols: m.symbols.filter((s) => s !== unbound[0]) }), bindings);
        if (known === 0 || a % known !== 0) return `dimension ${i} is ${a}, not a multiple of ${known} as ${d} requires`;
        bindings.set(unbound[0] as string, a / known);
      } else if (pass === 1) {
        return `cannot solve dimension ${d} from size ${a}`;
      }
    }
  }
  return undefined;
}
