import type { DType } from "./dtype.js";
import type { Attrs, AttrValue } from "./node.js";
import type { Shape } from "./shape.js";

// The spelling of values in textual IR. Hash-consing keys use the same functions, so
// two nodes print the same exactly when they are the same node.

/** Shortest round-tripping decimal; `-0`, `inf`, `-inf`, `nan` spelled out. */
export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Object.is(x, -0)) return "-0";
  return String(x);
}

export function formatAttrValue(value: AttrValue): string {
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return `[${value.map(formatNumber).join(", ")}]`;
}

/** `{axes=[-1], keepdims=true}` with keys sorted; empty string when there are none. */
export function formatAttrs(attrs: Attrs): string {
  const keys = Object.keys(attrs).sort();
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}=${formatAttrValue(attrs[k] as AttrValue)}`).join(", ")}}`;
}

/** `f64[T, 4, 4]`; a scalar is `f64[]`. */
export function formatType(dtype: DType | string, shape: Shape): string {
  return `${dtype}[${shape.join(", ")}]`;
}
