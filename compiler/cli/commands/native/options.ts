import type { ResidualDType } from "../../../../runtime/native/host-data.js";
import { UsageError } from "../../io.js";

/** One problem size: tokens and hidden size. */
export interface Shape {
  readonly T: number;
  readonly C: number;
}

/** The largest T or C accepted on the command line (the ABI's int64 allows more; memory does not). */
const MAX_DIM = 1 << 24;

/**
 * `--shapes 1x4096,7x100,1023×96`: token count by hidden size, comma-separated;
 * `x`, `X` and `×` all separate the two. Duplicates are kept once, in order.
 */
export function parseShapes(raw: unknown, flag = "shapes"): Shape[] {
  const text = String(raw ?? "").trim();
  if (text === "" || raw === true) throw new UsageError(`\`--${flag}\` needs a list like \`1x4096,1023x96\` (tokens x hidden size)`);
  const shapes: Shape[] = [];
  for (const part of text.split(",").map((p) => p.trim())) {
    const m = /^(\d+)\s*[x×X]\s*(\d+)$/.exec(part);
    if (!m) throw new UsageError(`\`--${flag}\`: \`${part}\` is not \`TxC\` (tokens x hidden size, e.g. \`1023x4096\`)`);
    const T = Number(m[1]);
    const C = Number(m[2]);
    if (T < 1 || T > MAX_DIM) throw new UsageError(`\`--${flag}\`: T = ${m[1]} in \`${part}\` must be from 1 to ${MAX_DIM}`);
    if (C < 1 || C > MAX_DIM) throw new UsageError(`\`--${flag}\`: C = ${m[2]} in \`${part}\` must be from 1 to ${MAX_DIM}`);
    if (!shapes.some((s) => s.T === T && s.C === C)) shapes.push({ T, C });
  }
  return shapes;
}

/** `--dtype bf16|fp32` (also `f32`, `float32`, `bfloat16`); both when absent. */
export function parseDtypes(raw: unknown, fallback: readonly ResidualDType[]): ResidualDType[] {
  if (raw === undefined) return [...fallback];
  const names: Record<string, ResidualDType> = { bf16: "bf16", bfloat16: "bf16", fp32: "f32", f32: "f32", float32: "f32" };
  const out: ResidualDType[] = [];
  for (const part of String(raw).split(",").map((p) => p.trim().toLowerCase())) {
    const dtype = names[part];
    if (!dtype) throw new UsageError(`\`--dtype ${String(raw)}\`: expected \`bf16\` or \`fp32\``);
    if (!out.includes(dtype)) out.push(dtype);
  }
  return out;
}

/** The name a report uses for a residual dtype. */
export function dtypeLabel(dtype: ResidualDType): string {
  return dtype === "bf16" ? "bf16" : "fp32";
}

/** A positive integer flag (`--tokens`, `--iters`); a usage error otherwise. */
export function positiveInteger(flag: string, raw: unknown, fallback: number, max = MAX_DIM): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`\`--${flag} ${String(raw)}\`: expected an integer from 1 to ${max}`);
  return value;
}

/** A non-negative integer flag (`--device`, `--seed`, `--warmup`). */
export function nonNegativeInteger(flag: string, raw: unknown, fallback: number, max = 2 ** 31 - 1): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) throw new UsageError(`\`--${flag} ${String(raw)}\`: expected an integer from 0 to ${max}`);
  return value;
}

/**
 * The shapes `mhc bench` times: `--shapes`, or `--tokens` by `--hidden` (each
 * may list several values: every combination is timed).
 */
export function benchShapes(options: { shapes?: unknown; tokens?: unknown; hidden?: unknown }, defaults: Shape): Shape[] {
  if (options.shapes !== undefined) {
    if (options.tokens !== undefined || options.hidden !== undefined) throw new UsageError("give either `--shapes` or `--tokens`/`--hidden`, not both");
    return parseShapes(options.shapes);
  }
  const list = (flag: string, raw: unknown, fallback: number): number[] =>
    raw === undefined ? [fallback] : String(raw).split(",").map((v) => positiveInteger(flag, v.trim(), fallback));
  const shapes: Shape[] = [];
  for (const T of list("tokens", options.tokens, defaults.T)) for (const C of list("hidden", options.hidden, defaults.C)) shapes.push({ T, C });
  return shapes;
}
