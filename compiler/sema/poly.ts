/**
 * Symbolic integers: polynomials with integer coefficients over named atoms.
 *
 * Shapes in constraint declarations are written over `n` (`[n, n]`, `[n * n]`,
 * `[fact(n)]`) and over integer parameters. Checking a constraint once for
 * every `n` means comparing such expressions symbolically: two dimensions are
 * equal when their canonical polynomials are equal. Atoms are `n`, integer
 * parameters, and `fact(...)` of another polynomial (kept opaque unless its
 * argument is a constant).
 */
export interface Poly {
  /** Monomial key (sorted atom names joined by `SEP`, `""` for the constant) to coefficient. */
  readonly terms: ReadonlyMap<string, number>;
}

const ONE_KEY = "";
/** Joins the atoms of a monomial; it cannot occur in an atom's name (`fact(n * n)` has `*`). */
const SEP = "\u00b7";

function normalise(terms: Map<string, number>): Poly {
  for (const [key, coefficient] of terms) if (coefficient === 0) terms.delete(key);
  return { terms };
}

/** Small integer constants are shared: polynomials are immutable, and checking creates many. */
const SMALL_CONSTANTS: Poly[] = Array.from({ length: 257 }, (_, i) => normalise(new Map([[ONE_KEY, i]])));

export function constant(value: number): Poly {
  if (Number.isInteger(value) && value >= 0 && value <= 256) return SMALL_CONSTANTS[value]!;
  return normalise(new Map([[ONE_KEY, value]]));
}

export function atom(name: string): Poly {
  return { terms: new Map([[name, 1]]) };
}

export function isConstant(p: Poly): boolean {
  return p.terms.size === 0 || (p.terms.size === 1 && p.terms.has(ONE_KEY));
}

/** The value of a constant polynomial, or undefined when it depends on an atom. */
export function constantValue(p: Poly): number | undefined {
  if (p.terms.size === 0) return 0;
  if (p.terms.size === 1 && p.terms.has(ONE_KEY)) return p.terms.get(ONE_KEY);
  return undefined;
}

export function add(a: Poly, b: Poly): Poly {
  const ca = constantValue(a);
  const cb = constantValue(b);
  if (ca !== undefined && cb !== undefined) return constant(ca + cb);
  if (ca === 0) return b;
  if (cb === 0) return a;
  const terms = new Map(a.terms);
  for (const [key, c] of b.terms) terms.set(key, (terms.get(key) ?? 0) + c);
  return normalise(terms);
}

export function scale(a: Poly, factor: number): Poly {
  const terms = new Map<string, number>();
  for (const [key, c] of a.terms) terms.set(key, c * factor);
  return normalise(terms);
}

export function sub(a: Poly, b: Poly): Poly {
  return add(a, scale(b, -1));
}

function multiplyKeys(a: string, b: string): string {
  if (a === ONE_KEY) return b;
  if (b === ONE_KEY) return a;
  return [...a.split(SEP), ...b.split(SEP)].sort().join(SEP);
}

export function mul(a: Poly, b: Poly): Poly {
  const ca = constantValue(a);
  const cb = constantValue(b);
  if (ca !== undefined && cb !== undefined) return constant(ca * cb);
  if (ca === 1) return b;
  if (cb === 1) return a;
  const terms = new Map<string, number>();
  for (const [ka, ca] of a.terms) {
    for (const [kb, cb] of b.terms) {
      const key = multiplyKeys(ka, kb);
      terms.set(key, (terms.get(key) ?? 0) + ca * cb);
    }
  }
  return normalise(terms);
}

export function equal(a: Poly, b: Poly): boolean {
  if (a === b) return true;
  if (a.terms.size !== b.terms.size) return false;
  for (const [key, c] of a.terms) if (b.terms.get(key) !== c) return false;
  return true;
}

/** Largest value `fact` evaluates exactly; larger factorials are not shapes anyone can allocate. */
export const MAX_FACT_ARGUMENT = 12;

export function factorialOf(value: number): number {
  let result = 1;
  for (let i = 2; i <= value; i++) result *= i;
  return result;
}

/** `fact(p)`: evaluated when `p` is a small constant, an opaque atom otherwise. */
export function fact(p: Poly): Poly {
  const value = constantValue(p);
  if (value !== undefined && Number.isInteger(value) && value >= 0 && value <= MAX_FACT_ARGUMENT) return constant(factorialOf(value));
  return atom(`fact(${show(p)})`);
}

/** Substitutes atoms by polynomials (used when a constraint's `n` is bound by a connection). */
export function substitute(p: Poly, bindings: ReadonlyMap<string, Poly>): Poly {
  let result = constant(0);
  for (const [key, c] of p.terms) {
    let term = constant(c);
    if (key !== ONE_KEY) {
      for (const name of key.split(SEP)) {
        const bound = bindings.get(name) ?? (name.startsWith("fact(") ? substituteFact(name, bindings) : atom(name));
        term = mul(term, bound);
      }
    }
    result = add(result, term);
  }
  return result;
}

function substituteFact(name: string, bindings: ReadonlyMap<string, Poly>): Poly {
  const inner = name.slice(5, -1);
  const bound = bindings.get(inner);
  return bound ? fact(bound) : atom(name);
}

/** Human form: `n`, `n * n`, `2 * n + 1`, `fact(n)`. */
export function show(p: Poly): string {
  if (p.terms.size === 0) return "0";
  const keys = [...p.terms.keys()].sort((a, b) => degree(b) - degree(a) || a.localeCompare(b));
  let out = "";
  for (const key of keys) {
    const c = p.terms.get(key)!;
    const magnitude = Math.abs(c);
    const body = key === ONE_KEY ? String(magnitude) : magnitude === 1 ? key.split(SEP).join(" * ") : `${magnitude} * ${key.split(SEP).join(" * ")}`;
    if (out === "") out = c < 0 ? `-${body}` : body;
    else out += c < 0 ? ` - ${body}` : ` + ${body}`;
  }
  return out;
}

function degree(key: string): number {
  return key === ONE_KEY ? 0 : key.split(SEP).length;
}
