import { Builder } from "../ir/builder.js";
import type { DType } from "../ir/dtype.js";
import { Graph } from "../ir/graph.js";
import { IrError } from "../ir/errors.js";
import type { Node } from "../ir/node.js";
import type { Dim } from "../ir/shape.js";
import type { CheckedProgram } from "../sema/index.js";
import type { ConstraintSignature } from "../sema/constraints.js";
import type { FileScope } from "../sema/symbols.js";
import { ExprLowering, lowerConstraintBody, type ConstraintResolver } from "./lower-expr.js";
import { fromCompileValue, num, type CompileValue, type Lowered } from "./values.js";

/** Resolves constraint calls through the scope of the file that makes them. */
export function constraintResolver(checked: CheckedProgram): ConstraintResolver {
  return (name: string, from: FileScope) => {
    const target = from.lookup(name);
    if (target?.kind !== "constraint") return undefined;
    const scope = checked.scopes.get(target.file.absPath) ?? from;
    return checked.checkers.constraints.signature(target.decl, scope);
  };
}

/** The concrete logits shape of a constraint for `n` and its arguments; undefined when shape-polymorphic. */
export function concreteLogitsShape(checked: CheckedProgram, sig: ConstraintSignature, n: number, args: ReadonlyMap<string, CompileValue>): number[] | undefined {
  if (!sig.logits.dims) return undefined;
  const scratch = new Builder(new Graph(), { dtype: "f64" });
  const lowering = new ExprLowering(scratch, 0, constraintResolver(checked), sig.scope, n);
  const env = new Map<string, Lowered>([["n", num(n)]]);
  for (const p of sig.params) {
    const given = args.get(p.name);
    if (given !== undefined) env.set(p.name, fromCompileValue(given));
    else if (p.default) env.set(p.name, lowering.expr(p.default, env));
  }
  return sig.logits.dims.map((d) => lowering.number(lowering.expr(d, env)));
}

export interface ConstraintGraph {
  readonly graph: Graph;
  /** `[...batch, ...logitsShape]`, named `L`. */
  readonly logits: Node;
  /** `[...batch, ...resultShape]`, named `H`. */
  readonly result: Node;
}

/**
 * The IR of one constraint applied to a batch of logits: input `L` of shape
 * `[...batch, ...logitsShape]`, output `H` of shape `[...batch, ...result]`.
 * A result that ignores the logits is broadcast over the batch.
 */
export function buildConstraintGraph(
  checked: CheckedProgram,
  sig: ConstraintSignature,
  n: number,
  args: ReadonlyMap<string, CompileValue>,
  logitsShape: readonly number[],
  options: { batch?: readonly Dim[]; dtype?: DType } = {},
): ConstraintGraph {
  const batch = options.batch ?? ["T"];
  const b = new Builder(new Graph(), { dtype: options.dtype ?? "f64" });
  const logits = b.at(sig.logits.span).input("L", [...batch, ...logitsShape]);
  const lowered = new Map<string, Lowered>([[sig.logits.name, { kind: "tensor", node: logits, batched: true, rank: logitsShape.length }]]);
  for (const [k, v] of args) lowered.set(k, fromCompileValue(v));
  const value = lowerConstraintBody(b, sig, n, lowered, batch.length, constraintResolver(checked));
  if (value.kind !== "tensor") throw new IrError(`lowering: ${sig.name} returned a compile-time value`);
  const result = value.batched ? value.node : b.broadcastTo(value.node, [...batch, ...value.node.shape]);
  b.graph.output("H", result);
  return { graph: b.graph, logits, result };
}
