import type { Node } from "../ir/node.js";

/**
 * What an expression lowers to: a compile-time number or boolean (folded as
 * the program is unrolled), a list (shapes such as `[n, 2]`), or a tensor in
 * the graph. A tensor is `batched` when it carries the leading token axes of
 * the logits; `rank` counts only its logical axes.
 */
export type Lowered =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "list"; readonly items: readonly Lowered[] }
  | { readonly kind: "tensor"; readonly node: Node; readonly batched: boolean; readonly rank: number };

export function num(value: number): Lowered {
  return { kind: "number", value };
}

/** A compile-time value given from outside (a `--set` argument, a connection parameter). */
export type CompileValue = number | boolean;

export function fromCompileValue(v: CompileValue): Lowered {
  return typeof v === "boolean" ? { kind: "bool", value: v } : num(v);
}
