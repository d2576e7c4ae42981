import type { SourceSet } from "../source/source-set.js";
import type { Span } from "../source/span.js";
import type { Diagnostic, Severity } from "./diagnostic.js";

/**
 * `--format json` (design.md §2.5): one JSON array on stdout, one object per
 * diagnostic, for editors, CI annotations and scripts.
 *
 * Positions are 1-based. Columns count UTF-16 code units, the unit of our spans
 * and of LSP's default position encoding, so an editor can use them directly.
 * `endLine`/`endColumn` are exclusive, as in LSP and rustc: `endColumn` is the
 * column just after the last character, so a one-character span at 3:5 ends at
 * 3:6, an empty span has `endColumn === column`, and a span that ends after a
 * line break ends at column 1 of the next line.
 *
 * A diagnostic without a span (or whose file was never read, so its offsets
 * cannot become lines) has `null` positions; `file` is still given when known.
 */

/** A location as JSON consumers see it; every field null when unknown. */
export interface JsonLocation {
  file: string | null;
  line: number | null;
  column: number | null;
  endLine: number | null;
  endColumn: number | null;
}

export interface JsonSecondary extends JsonLocation {
  message: string;
}

export interface JsonDiagnostic extends JsonLocation {
  code: string;
  severity: Severity;
  message: string;
  /** Notes, then the help prefixed `help: `, so a tool that shows notes shows the fix. */
  notes: string[];
  label?: string;
  help?: string;
  /** Other locations that explain the problem (LSP's `relatedInformation`). */
  secondary?: JsonSecondary[];
}

export function toJsonDiagnostic(diagnostic: Diagnostic, sources: SourceSet): JsonDiagnostic {
  // Built key by key: the pinned keys come first, in the pinned order.
  const out: JsonDiagnostic = {
    code: diagnostic.code,
    severity: diagnostic.severity,
    message: diagnostic.message,
    ...locate(diagnostic.span, sources),
    notes: [...diagnostic.notes, ...(diagnostic.help !== undefined ? [`help: ${diagnostic.help}`] : [])],
  };
  if (diagnostic.label !== undefined) out.label = diagnostic.label;
  if (diagnostic.help !== undefined) out.help = diagnostic.help;
  if (diagnostic.secondary.length > 0) {
    out.secondary = diagnostic.secondary.map((s) => ({ message: s.message, ...locate(s.span, sources) }));
  }
  return out;
}

/**
 * The whole `--format json` output: an array with one object per line (easy to
 * read and to diff, still one JSON document), ending with a newline.
 */
export function formatJson(diagnostics: Iterable<Diagnostic>, sources: SourceSet): string {
  const items = [...diagnostics].map((d) => JSON.stringify(toJsonDiagnostic(d, sources)));
  return items.length === 0 ? "[]\n" : `[\n${items.join(",\n")}\n]\n`;
}

function locate(span: Span | undefined, sources: SourceSet): JsonLocation {
  const source = span ? sources.get(span.file) : undefined;
  if (!span || !source) return { file: span?.file ?? null, line: null, column: null, endLine: null, endColumn: null };
  const start = source.positionAt(span.start);
  const end = source.positionAt(span.end);
  return { file: span.file, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}
