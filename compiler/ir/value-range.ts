import type { Node } from "./node.js";

/*
 * Value ranges: for every node of a graph an interval that holds every element of its value,
 * whatever the graph's inputs are. The code generators use it to prove a divisor a normal float,
 * whose reciprocal is then one approximate instruction instead of a full-range division (the
 * Sinkhorn's 40 row and column normalisations are the critical path of a decode step).
 *
 * Sound for inputs without NaN: a NaN propagates through either form of a division alike, so it
 * is not tracked. The bounds are of the values a float32 kernel computes: every result is widened
 * by a relative 2^-20 (many ulps of rounding), and a positive lower bound below the smallest
 * normal float becomes 0 (an underflowing exp or product may flush to zero). Where an operation
 * may produce NaN from finite bounds (inf - inf, 0 * inf) or has no rule, the range is unbounded.
 *
 * One structural rule carries the normalisations through a long unrolled loop: a / (sum(a) + c)
 * with a >= 0, the sum over the axes the division broadcasts along (keepdims) and c >= 0, lies in
 * [0, 1] (each term is at most the float sum of non-negative terms it is part of). Plain interval
 * arithmetic would let the bound grow by 1 / eps per iteration.
 */

export interface ValueRange {
  readonly lo: number;
  readonly hi: number;
}

const ANY: ValueRange = { lo: -Infinity, hi: Infinity };
const UNIT: ValueRange = { lo: 0, hi: 1 };
const FLT_MIN = 2 ** -126;
const FLT_MAX_NORMAL_RECIP = 2 ** 126;
const ROUNDING = 2 ** -20;

const range = (lo: number, hi: number): ValueRange => (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi ? ANY : { lo, hi });

/** The interval a float32 computation of an exact result in [lo, hi] may land in. */
function widen(r: ValueRange): ValueRange {
  if (r === ANY) return r;
  let lo = r.lo - Math.abs(r.lo) * ROUNDING;
  let hi = r.hi + Math.abs(r.hi) * ROUNDING;
  if (lo > 0 && lo < FLT_MIN) lo = 0;
  if (hi < 0 && hi > -FLT_MIN) hi = 0;
  return range(lo, hi);
}

/** Every element of a value in this range is a normal float32 whose reciprocal is normal too (or a NaN). */
export function isNormalRange(r: ValueRange): boolean {
  const positive = r.lo >= FLT_MIN && r.hi <= FLT_MAX_NORMAL_RECIP;
  const negative = r.hi <= -FLT_MIN && r.lo >= -FLT_MAX_NORMAL_RECIP;
  return positive || negative;
}

const union = (a: ValueRange, b: ValueRange): ValueRange => range(Math.min(a.lo, b.lo), Math.max(a.hi, b.hi));

/** The range of |x| for x in r. */
const magnitude = (r: ValueRange): ValueRange => (r.lo >= 0 ? r : r.hi <= 0 ? range(-r.hi, -r.lo) : range(0, Math.max(-r.lo, r.hi)));

/** min and max of f over the interval corners; NaN anywhere (inf - inf, 0 * inf) gives ANY. */
function corners(a: ValueRange, b: ValueRange, f: (x: number, y: number) => number): ValueRange {
  const vs = [f(a.lo, b.lo), f(a.lo, b.hi), f(a.hi, b.lo), f(a.hi, b.hi)];
  if (vs.some(Number.isNaN)) return ANY;
  return range(Math.min(...vs), Math.max(...vs));
}

function monotone(r: ValueRange, f: (x: number) => number): ValueRange {
  return range(f(r.lo), f(r.hi));
}

const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** Elements a reduction over `axes` (canonical, negative) adds up, or undefined for a symbolic extent. */
function reducedCount(node: Node): number | undefined {
  const x = node.inputs[0] as Node;
  const rank = x.shape.length;
  let count = 1;
  for (const a of (node.attrs["axes"] as readonly number[] | undefined) ?? []) {
    const d = x.shape[a < 0 ? a + rank : a];
    if (typeof d !== "number") return undefined;
    count *= d;
  }
  return count;
}

/** Whether `b` is sum(a) over exactly the axes along which a / b broadcasts b (keepdims), plus terms >= 0. */
function coversNumerator(a: Node, b: Node, ranges: ReadonlyMap<Node, ValueRange>): boolean {
  if (b.op === "add") {
    const [p, q] = b.inputs as [Node, Node];
    const nonNegative = (n: Node): boolean => (ranges.get(n) ?? ANY).lo >= 0;
    return (coversNumerator(a, p, ranges) && nonNegative(q)) || (coversNumerator(a, q, ranges) && nonNegative(p));
  }
  if (b.op !== "sum" || b.inputs[0] !== a || b.attrs["keepdims"] !== true) return false;
  return b.shape.length === a.shape.length;
}

function rangeOf(node: Node, ranges: ReadonlyMap<Node, ValueRange>): ValueRange {
  const ins = node.inputs.map((n) => ranges.get(n) ?? ANY);
  const [a = ANY, b = ANY] = ins;
  switch (node.op) {
    case "input":
      return ANY;
    case "const": {
      const value = node.attrs["value"] as readonly number[];
      if (value.length === 0 || value.some(Number.isNaN)) return ANY;
      return range(Math.min(...value), Math.max(...value));
    }
    case "eye":
    case "gt":
    case "ge":
    case "lt":
    case "le":
    case "eq":
      return UNIT;
    case "neg":
      return range(-a.hi, -a.lo);
    case "exp":
      return monotone(a, Math.exp);
    case "log":
      return a.lo >= 0 ? monotone(a, Math.log) : ANY;
    case "sigmoid":
      return monotone(a, sigmoid);
    case "tanh":
      return monotone(a, Math.tanh);
    case "softplus":
      return monotone(a, softplus);
    case "abs":
      return magnitude(a);
    case "sign":
      return range(Math.sign(a.lo), Math.sign(a.hi));
    case "relu":
      return range(Math.max(a.lo, 0), Math.max(a.hi, 0));
    case "sqrt":
      return range(Math.sqrt(Math.max(a.lo, 0)), Math.sqrt(Math.max(a.hi, 0)));
    case "rsqrt":
      return a.lo > 0 ? range(1 / Math.sqrt(a.hi), 1 / Math.sqrt(a.lo)) : range(a.hi > 0 ? 1 / Math.sqrt(a.hi) : 0, Infinity);
    case "square": {
      const m = magnitude(a);
      return range(m.lo * m.lo, m.hi * m.hi);
    }
    case "recip":
      return a.lo > 0 || a.hi < 0 ? range(1 / a.hi, 1 / a.lo) : ANY;
    case "add":
      return corners(a, b, (x, y) => x + y);
    case "sub":
      return corners(a, b, (x, y) => x - y);
    case "mul":
      return corners(a, b, (x, y) => x * y);
    case "div": {
      const [num, den] = node.inputs as [Node, Node];
      if (a.lo >= 0 && coversNumerator(num, den, ranges)) return UNIT;
      if (b.lo > 0 || b.hi < 0) return corners(a, range(1 / b.hi, 1 / b.lo), (x, y) => x * y);
      return ANY;
    }
    case "max":
      return range(Math.max(a.lo, b.lo), Math.max(a.hi, b.hi));
    case "min":
      return range(Math.min(a.lo, b.lo), Math.min(a.hi, b.hi));
    case "where":
      return union(ins[1] ?? ANY, ins[2] ?? ANY);
    case "sum": {
      const count = reducedCount(node);
      if (count === undefined) return range(a.lo >= 0 ? 0 : -Infinity, a.hi <= 0 ? 0 : Infinity);
      return count === 0 ? range(0, 0) : range(a.lo * count, a.hi * count);
    }
    case "mean":
    case "amax":
    case "amin":
      return a;
    case "logsumexp": {
      const count = reducedCount(node);
      return count === undefined || count === 0 ? ANY : range(a.lo, a.hi + Math.log(count));
    }
    case "softmax":
      return UNIT;
    case "matmul": {
      const k = node.inputs[0]?.shape.at(-1);
      if (typeof k !== "number") return ANY;
      const p = corners(a, b, (x, y) => x * y);
      return k === 0 ? range(0, 0) : range(p.lo * k, p.hi * k);
    }
    case "transpose":
    case "reshape":
    case "broadcast_to":
    case "slice":
      return a;
    case "concat":
      return ins.reduce(union);
    case "cast":
      if (node.dtype === "bool") return UNIT;
      if (node.dtype === "i32") return range(Math.trunc(a.lo), Math.trunc(a.hi));
      if (node.dtype === "bf16") return range(a.lo - Math.abs(a.lo) * 2 ** -8, a.hi + Math.abs(a.hi) * 2 ** -8);
      return a;
    default:
      return ANY;
  }
}

/** The range of every node of `nodes`, which lists each node after its inputs (as reachableNodes does). */
export function valueRanges(nodes: readonly Node[]): Map<Node, ValueRange> {
  const ranges = new Map<Node, ValueRange>();
  for (const node of nodes) {
    const exact = node.op === "input" || node.op === "const" || node.op === "eye";
    ranges.set(node, exact ? rangeOf(node, ranges) : widen(rangeOf(node, ranges)));
  }
  return ranges;
}
