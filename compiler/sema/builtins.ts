import { Diag, type MessageDef } from "../diagnostics/messages.js";
import type { DiagnosticExtras } from "../diagnostics/diagnostic.js";
import { unaryFolds } from "./folds.js";
import * as P from "./poly.js";
import { broadcastShapes, describe, ERROR, floatValue, intValue, numberValue, showShape, tensor, usesLogits, type Shape, type Value } from "./values.js";

/** Where a builtin reports a problem: at one of its arguments, or at the whole call. */
export interface BuiltinSite {
  report(def: MessageDef, at: number | "call", args: readonly (string | number)[], extras?: DiagnosticExtras): void;
}

export interface Builtin {
  readonly name: string;
  readonly params: readonly string[];
  /** One line for hover text and `mhc explain`. */
  readonly doc: string;
  check(args: readonly Value[], site: BuiltinSite): Value;
}

const scalar: Shape = [];

/** A numeric argument as a tensor shape (compile-time scalars are scalar tensors). */
function shapeOf(v: Value): Shape | undefined {
  if (v.kind === "tensor") return v.shape;
  if (v.kind === "int" || v.kind === "float") return scalar;
  return undefined;
}

function expectNumeric(v: Value, at: number, site: BuiltinSite): Shape | undefined {
  const shape = shapeOf(v);
  if (shape === undefined && v.kind !== "error") site.report(Diag.TypeMismatch, at, ["a number or a tensor", describe(v)]);
  return shape;
}

function expectRank(v: Value, rank: number, what: string, name: string, at: number, site: BuiltinSite): Shape | undefined {
  if (v.kind === "error") return undefined;
  const shape = expectNumeric(v, at, site);
  if (shape === undefined) return undefined;
  if (shape.length !== rank) {
    site.report(Diag.WrongRank, at, [name, what, describe(v)], { label: `expected ${what}` });
    return undefined;
  }
  return shape;
}

function expectInt(v: Value, at: number, what: string, site: BuiltinSite): P.Poly | undefined {
  if (v.kind === "int") return v.value;
  if (v.kind !== "error") site.report(Diag.TypeMismatch, at, [`\`int\` (${what})`, describe(v)]);
  return undefined;
}

function isCompileTimeScalar(v: Value): boolean {
  return v.kind === "int" || v.kind === "float";
}

/** Elementwise math: tensors keep their shape; compile-time numbers are folded. */
function unary(name: string, doc: string, fold: (x: number) => number): Builtin {
  return {
    name,
    params: ["x"],
    doc,
    check([x], site) {
      if (!x || x.kind === "error") return ERROR;
      if (isCompileTimeScalar(x)) {
        const value = numberValue(x);
        return floatValue(value === undefined ? undefined : fold(value));
      }
      const shape = expectNumeric(x, 0, site);
      return shape ? tensor(shape, usesLogits(x)) : ERROR;
    },
  };
}

function binaryElementwise(name: string, doc: string, fold: (a: number, b: number) => number): Builtin {
  return {
    name,
    params: ["a", "b"],
    doc,
    check([a, b], site) {
      if (!a || !b || a.kind === "error" || b.kind === "error") return ERROR;
      if (isCompileTimeScalar(a) && isCompileTimeScalar(b)) {
        const va = numberValue(a);
        const vb = numberValue(b);
        return floatValue(va === undefined || vb === undefined ? undefined : fold(va, vb));
      }
      const sa = expectNumeric(a, 0, site);
      const sb = expectNumeric(b, 1, site);
      if (!sa || !sb) return ERROR;
      const out = broadcastShapes(sa, sb);
      if (!out) {
        site.report(Diag.ShapeMismatch, "call", [name, showShape(sa), showShape(sb)], { label: `cannot broadcast ${showShape(sb)} against ${showShape(sa)}` });
        return ERROR;
      }
      return tensor(out, usesLogits(a) || usesLogits(b));
    },
  };
}

/** Reductions of a matrix that keep the reduced axis (`rowsum` of `[a, b]` is `[a, 1]`). */
function matrixReduction(name: string, doc: string, keep: "rows" | "cols"): Builtin {
  return {
    name,
    params: ["M"],
    doc,
    check([m], site) {
      const shape = m && expectRank(m, 2, "a matrix", name, 0, site);
      if (!m || !shape) return ERROR;
      const one = P.constant(1);
      return tensor(keep === "rows" ? [shape[0]!, one] : [one, shape[1]!], usesLogits(m));
    },
  };
}

function matrixMap(name: string, doc: string): Builtin {
  return {
    name,
    params: ["M"],
    doc,
    check([m], site) {
      const shape = m && expectRank(m, 2, "a matrix", name, 0, site);
      return m && shape ? tensor(shape, usesLogits(m)) : ERROR;
    },
  };
}

function toScalar(name: string, doc: string): Builtin {
  return {
    name,
    params: ["x"],
    doc,
    check([x], site) {
      if (!x || x.kind === "error") return ERROR;
      if (x.kind !== "tensor") {
        site.report(Diag.WrongRank, 0, [name, "a tensor", describe(x)], { label: "not a tensor" });
        return ERROR;
      }
      return tensor(scalar, x.usesLogits);
    },
  };
}

/** A shape given as a list literal of integers: `ones([n, 2])`. */
function shapeArgument(v: Value, at: number, site: BuiltinSite): Shape | undefined {
  if (v.kind === "error") return undefined;
  if (v.kind !== "list") {
    site.report(Diag.TypeMismatch, at, ["a shape such as `[n, n]`", describe(v)]);
    return undefined;
  }
  const dims: P.Poly[] = [];
  for (const item of v.items) {
    if (item.kind === "error") return undefined;
    if (item.kind !== "int") {
      site.report(Diag.BadDimension, at, [describe(item)]);
      return undefined;
    }
    const value = P.constantValue(item.value);
    if (value !== undefined && value < 1) {
      site.report(Diag.BadDimension, at, [String(value)]);
      return undefined;
    }
    dims.push(item.value);
  }
  return dims;
}

function filled(name: string, doc: string): Builtin {
  return {
    name,
    params: ["shape"],
    doc,
    check([s], site) {
      const shape = s && shapeArgument(s, 0, site);
      return shape ? tensor(shape) : ERROR;
    },
  };
}

export const builtins: ReadonlyMap<string, Builtin> = new Map(
  ([
    unary("exp", "e to the power x, elementwise", unaryFolds.exp),
    unary("log", "natural logarithm, elementwise", unaryFolds.log),
    unary("sigmoid", "1 / (1 + exp(-x)), elementwise", unaryFolds.sigmoid),
    unary("tanh", "hyperbolic tangent, elementwise", unaryFolds.tanh),
    unary("abs", "absolute value, elementwise", unaryFolds.abs),
    unary("sqrt", "square root, elementwise", unaryFolds.sqrt),
    unary("square", "x * x, elementwise", unaryFolds.square),
    unary("relu", "max(x, 0), elementwise", unaryFolds.relu),
    unary("softplus", "log(1 + exp(x)), elementwise", unaryFolds.softplus),
    binaryElementwise("max", "the larger of a and b, elementwise with broadcasting", Math.max),
    binaryElementwise("min", "the smaller of a and b, elementwise with broadcasting", Math.min),
    {
      name: "clamp",
      params: ["x", "lo", "hi"],
      doc: "min(max(x, lo), hi), elementwise with broadcasting",
      check(args, site) {
        const lower = builtins.get("max")!.check([args[0] ?? ERROR, args[1] ?? ERROR], site);
        return builtins.get("min")!.check([lower, args[2] ?? ERROR], site);
      },
    },
    matrixReduction("rowsum", "sum of each row of a matrix, [a, b] -> [a, 1]", "rows"),
    matrixReduction("colsum", "sum of each column of a matrix, [a, b] -> [1, b]", "cols"),
    matrixReduction("rowmax", "maximum of each row of a matrix, [a, b] -> [a, 1]", "rows"),
    matrixReduction("colmax", "maximum of each column of a matrix, [a, b] -> [1, b]", "cols"),
    matrixReduction("logsumexp_rows", "log(sum(exp)) of each row, max-subtracted, [a, b] -> [a, 1]", "rows"),
    matrixReduction("logsumexp_cols", "log(sum(exp)) of each column, max-subtracted, [a, b] -> [1, b]", "cols"),
    matrixMap("softmax_rows", "softmax of each row (rows sum to 1), max-subtracted"),
    matrixMap("softmax_cols", "softmax of each column (columns sum to 1), max-subtracted"),
    toScalar("sum", "sum of all elements, to a scalar"),
    toScalar("mean", "mean of all elements, to a scalar"),
    toScalar("norm", "Frobenius norm sqrt(sum(x^2)), to a scalar"),
    {
      name: "softmax",
      params: ["v"],
      doc: "softmax of a vector, max-subtracted",
      check([v], site) {
        const shape = v && expectRank(v, 1, "a vector", "softmax", 0, site);
        return v && shape ? tensor(shape, usesLogits(v)) : ERROR;
      },
    },
    {
      name: "eye",
      params: ["k"],
      doc: "the k x k identity matrix",
      check([k], site) {
        const size = k && expectInt(k, 0, "the size", site);
        return size ? tensor([size, size]) : ERROR;
      },
    },
    filled("ones", "a tensor of ones of the given shape"),
    filled("zeros", "a tensor of zeros of the given shape"),
    {
      name: "perms",
      params: ["k"],
      doc: "the k! permutation matrices of size k, in lexicographic order, [fact(k), k, k]",
      check([k], site) {
        const size = k && expectInt(k, 0, "the size", site);
        return size ? tensor([P.fact(size), size, size]) : ERROR;
      },
    },
    {
      name: "combine",
      params: ["w", "B"],
      doc: "sum_k w[k] * B[k]: a weighted sum of matrices, [m] and [m, a, b] -> [a, b]",
      check([w, b], site) {
        const ws = w && expectRank(w, 1, "a vector of weights", "combine", 0, site);
        const bs = b && expectRank(b, 3, "a stack of matrices [m, a, b]", "combine", 1, site);
        if (!w || !b || !ws || !bs) return ERROR;
        if (!P.equal(ws[0]!, bs[0]!)) {
          site.report(Diag.ShapeMismatch, "call", ["combine", showShape(ws), showShape(bs)], { label: `${P.show(ws[0]!)} weights for ${P.show(bs[0]!)} matrices` });
          return ERROR;
        }
        return tensor([bs[1]!, bs[2]!], usesLogits(w) || usesLogits(b));
      },
    },
    {
      name: "fact",
      params: ["k"],
      doc: "k! (factorial) of a compile-time integer",
      check([k], site) {
        const value = k && expectInt(k, 0, "the argument", site);
        return value ? intValue(P.fact(value)) : ERROR;
      },
    },
  ] satisfies Builtin[]).map((b) => [b.name, b] as const),
);
