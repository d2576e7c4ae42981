import type { Expr, Field, ValueField } from "../../grammar/ast.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Span } from "../source/span.js";
import { oneOf } from "../../grammar/syntax-errors.js";

/**
 * Groups the fields of a connection or model by name, reporting unknown and
 * repeated fields, and modifiers (`dynamic`, `init`) on fields that take none.
 */
export function collectFields(
  fields: readonly Field[],
  known: readonly string[],
  where: string,
  bag: DiagnosticBag,
  accepts: { mode?: readonly string[]; init?: readonly string[] } = {},
): Map<string, ValueField> {
  const out = new Map<string, ValueField>();
  for (const field of fields) {
    if (field.kind !== "Field") continue;
    const name = field.name.name;
    if (name === "") continue;
    if (!known.includes(name)) {
      const help = didYouMean(name, known);
      bag.report(Diag.UnknownField, field.name.span, [name, where], { label: "unknown field", ...(help ? { help } : { notes: [`the fields of ${where} are ${known.map((k) => `\`${k}\``).join(", ")}`] }) });
      continue;
    }
    const previous = out.get(name);
    if (previous) {
      bag.report(Diag.DuplicateField, field.name.span, [name], { label: "set again here", secondary: [{ span: previous.name.span, message: "first set here" }] });
      continue;
    }
    if (field.mode && !accepts.mode?.includes(name)) {
      bag.report(Diag.BadFieldValue, field.mode.span, [name, "a value, not a map mode"], { label: `\`${field.mode.value}\` applies to \`pre\`, \`post\` and \`res\`` });
    }
    if (field.init && !accepts.init?.includes(name)) {
      bag.report(Diag.BadFieldValue, field.init.span, [name, "no `init`"], { label: "`init` applies to `pre`, `post` and `res`" });
    }
    out.set(name, field);
  }
  return out;
}

/** An enumerated field value written as a bare name (`projection per_stream`). */
export function enumValue(value: Expr, choices: readonly string[], what: string, bag: DiagnosticBag): string | undefined {
  if (value.kind === "ErrorExpr") return undefined;
  if (value.kind === "Name" && choices.includes(value.name)) return value.name;
  const written = writtenName(value);
  const help = written ? didYouMean(written, choices) : undefined;
  bag.report(Diag.BadEnumValue, value.span, [written ?? "this", what, oneOf(choices.map((c) => `\`${c}\``))], { label: `not a valid ${what}`, ...(help ? { help } : {}) });
  return undefined;
}

/** Reports every missing required field of a declaration in one diagnostic. */
export function reportMissing(missing: readonly { name: string; example: string }[], what: string, at: Span, bag: DiagnosticBag): void {
  if (missing.length === 0) return;
  const names = oneOf(missing.map((m) => `\`${m.name}\``)).replace(/^one of /, "").replace(/ or /, " and ");
  bag.report(Diag.MissingField, at, [what, names], { label: `no ${names}`, help: `add ${missing.map((m) => `\`${m.example}\``).join(", ")}` });
}

/** How a would-be name was written: `per-stream` parses as a subtraction of two names. */
function writtenName(value: Expr): string | undefined {
  if (value.kind === "Name") return value.name;
  if (value.kind === "Call") return value.callee.name;
  if (value.kind === "Binary" && value.op === "-") {
    const left = writtenName(value.left);
    const right = writtenName(value.right);
    return left !== undefined && right !== undefined ? `${left}-${right}` : undefined;
  }
  return undefined;
}
