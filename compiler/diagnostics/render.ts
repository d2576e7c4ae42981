import pc from "picocolors";
import type { SourceFile } from "../source/source-file.js";
import type { SourceSet } from "../source/source-set.js";
import type { Span } from "../source/span.js";
import { MAX_ERRORS_PER_FILE } from "./bag.js";
import type { Diagnostic, Severity } from "./diagnostic.js";

/**
 * The human renderer (design.md §2.5, rustc/Elm layout):
 *
 *     error[MHC3002]: shape mismatch in `/`: [n, n] and [n, 2]
 *       --> examples/bad.mhc:12:9
 *        |
 *     12 |   M = M / ones([n, 2])
 *        |       ^^^^^^^^^^^^^^^^ cannot broadcast [n, 2] against [n, n]
 *        = help: ...
 *
 * Layout decisions, so goldens stay stable:
 * - one gutter width for the whole diagnostic (the widest line number shown);
 * - every label gets its own marker line, under its source line, in line order;
 *   secondary labels in another file get their own `-->` header and frame;
 * - a multi-line span is marked from its start to the end of its first line
 *   and its label says on which line it ends;
 * - tabs expand to tab stops and control characters show as their Unicode
 *   "control picture", so the markers line up with what the terminal prints;
 * - lines wider than `maxLineWidth` are cut around the label with `...`;
 * - notes come before help (help is the fix, and reads best last).
 */

export interface RenderOptions {
  readonly color: boolean;
  /** Width of a tab stop in the code frame (rustc uses 4). */
  readonly tabWidth?: number;
  /** Source lines wider than this many columns are cut around the marked span. */
  readonly maxLineWidth?: number;
}

type Colors = ReturnType<typeof pc.createColors>;

const DEFAULT_TAB_WIDTH = 4;
const DEFAULT_MAX_LINE_WIDTH = 120;
const ELLIPSIS = "...";

// ---------------------------------------------------------------- colour policy

/** The part of a stream the colour policy looks at (`process.stderr` fits). */
export interface ColorStream {
  readonly isTTY?: boolean;
}

/**
 * Whether to colour output written to `stream`. Precedence, highest first:
 * the `--color` / `--no-color` flag; `NO_COLOR` set to a non-empty value
 * (no-color.org); `FORCE_COLOR` (as in Node: `0` or `false` turn colour off,
 * any other value, even empty, turns it on); finally, a TTY whose `TERM` is not
 * `dumb`. `CI` is deliberately not a reason to colour: logs and goldens stay plain.
 */
export function useColor(stream: ColorStream, flag?: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  if (flag !== undefined) return flag;
  const noColor = env["NO_COLOR"];
  if (noColor !== undefined && noColor !== "") return false;
  const force = env["FORCE_COLOR"];
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  return stream.isTTY === true && env["TERM"] !== "dumb";
}

/** Colour functions for the policy's answer (plain identity functions when off). */
export function colors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}

function severityColor(c: Colors, severity: Severity): (s: string) => string {
  switch (severity) {
    case "error":
      return (s) => c.bold(c.red(s));
    case "warning":
      return (s) => c.bold(c.yellow(s));
    case "note":
      return (s) => c.bold(c.cyan(s));
  }
}

// ---------------------------------------------------------------- diagnostics

/** Renders one diagnostic; the text ends with a newline. */
export function renderDiagnostic(diagnostic: Diagnostic, sources: SourceSet, options: RenderOptions): string {
  const c = colors(options.color);
  const paint = severityColor(c, diagnostic.severity);
  const out: string[] = [paint(`${diagnostic.severity}[${diagnostic.code}]`) + c.bold(`: ${diagnostic.message}`)];

  const groups = groupLabels(diagnostic, sources);
  const width = Math.max(1, ...groups.flatMap((g) => g.lines.map((l) => String(l.line).length)));
  const pad = " ".repeat(width);
  const gutter = (text: string) => c.bold(c.blue(text));
  const style: FrameStyle = { gutter, primary: paint, secondary: gutter };

  groups.forEach((group, index) => {
    if (index > 0) out.push(gutter(`${pad} |`));
    if (!group.source) {
      // The file was not read (e.g. a file that failed to load): no frame, only where.
      out.push(`${pad}${gutter("-->")} ${group.path}`);
      return;
    }
    // The primary's position heads its frame; another file's frame starts at its first label.
    const first = group.labels.find((l) => l.primary) ?? group.lines[0]!.labels[0]!;
    out.push(`${pad}${gutter("-->")} ${group.path}:${first.startLine}:${first.startColumn}`);
    out.push(gutter(`${pad} |`));
    let previous = 0;
    for (const line of group.lines) {
      if (previous > 0 && line.line > previous + 1) {
        // One hidden line is cheaper to show than to elide.
        if (line.line === previous + 2) out.push(...frameLine(group.source, previous + 1, [], width, options, style));
        else out.push(gutter(ELLIPSIS));
      }
      out.push(...frameLine(group.source, line.line, line.labels, width, options, style));
      previous = line.line;
    }
  });

  const notes = [...diagnostic.notes.map((n) => ["note", n] as const), ...(diagnostic.help !== undefined ? [["help", diagnostic.help] as const] : [])];
  for (const [kind, text] of notes) {
    const lead = `${pad} ${gutter("=")} ${c.bold(`${kind}:`)} `;
    const continuation = " ".repeat(width + kind.length + 5);
    out.push(lead + text.split("\n").join(`\n${continuation}`));
  }
  return out.join("\n") + "\n";
}

/** Renders diagnostics in order, separated by blank lines (rustc's layout). */
export function renderDiagnostics(diagnostics: Iterable<Diagnostic>, sources: SourceSet, options: RenderOptions): string {
  return [...diagnostics].map((d) => renderDiagnostic(d, sources, options)).join("\n");
}

// ---------------------------------------------------------------- summary

/** What the summary needs; a `DiagnosticBag` has exactly these. */
export interface DiagnosticCounts {
  /** All errors, including those the bag suppressed. */
  readonly errorCount: number;
  readonly warningCount: number;
  /** Errors counted but not kept (past the per-file cap). */
  readonly suppressed: number;
}

/**
 * The closing line(s) of a run, rustc style:
 * `error: could not check `x.mhc` due to 3 previous errors; 1 warning emitted`,
 * `warning: `x.mhc` generated 1 warning`, plus a note when the bag suppressed
 * errors. Empty when there is nothing to say.
 */
export interface SummaryOptions {
  readonly color: boolean;
  /** What the command was doing, for "could not VERB ..." (default `check`). */
  readonly verb?: string;
}

export function renderSummary(files: readonly string[], counts: DiagnosticCounts, options: SummaryOptions): string {
  const c = colors(options.color);
  const what = describeFiles(files);
  const warnings = plural(counts.warningCount, "warning");
  const lines: string[] = [];
  if (counts.errorCount > 0) {
    const tail = counts.warningCount > 0 ? `; ${warnings} emitted` : "";
    lines.push(`${severityColor(c, "error")("error")}${c.bold(`: could not ${options.verb ?? "check"} ${what} due to ${plural(counts.errorCount, "previous error")}${tail}`)}`);
  } else if (counts.warningCount > 0) {
    lines.push(`${severityColor(c, "warning")("warning")}${c.bold(`: ${what} generated ${warnings}`)}`);
  }
  if (counts.suppressed > 0) {
    const more = counts.suppressed === 1 ? "1 more error" : `${counts.suppressed} more errors`;
    lines.push(`${severityColor(c, "note")("note")}${c.bold(`: ${more} not shown (at most ${MAX_ERRORS_PER_FILE} errors are shown per file)`)}`);
  }
  return lines.length > 0 ? lines.join("\n") + "\n" : "";
}

function describeFiles(files: readonly string[]): string {
  if (files.length === 0) return "the input";
  if (files.length > 3) return `${files.length} files`;
  const quoted = files.map((f) => `\`${f}\``);
  return quoted.length === 1 ? quoted[0]! : `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------- labels

/** A label resolved to positions in its file. */
interface PlacedLabel {
  readonly primary: boolean;
  readonly message: string;
  readonly span: Span;
  readonly startLine: number;
  readonly startColumn: number;
  /** The line of the last character the span covers (its start line for empty spans). */
  readonly endLine: number;
}

interface LabelGroup {
  readonly path: string;
  readonly source: SourceFile | undefined;
  readonly labels: PlacedLabel[];
  readonly lines: { line: number; labels: PlacedLabel[] }[];
}

/** Labels grouped by file (the primary's file first), each group's lines sorted. */
function groupLabels(diagnostic: Diagnostic, sources: SourceSet): LabelGroup[] {
  const raw: { span: Span; message: string; primary: boolean }[] = [];
  if (diagnostic.span) raw.push({ span: diagnostic.span, message: diagnostic.label ?? "", primary: true });
  for (const s of diagnostic.secondary) raw.push({ span: s.span, message: s.message, primary: false });

  const groups = new Map<string, LabelGroup>();
  for (const label of raw) {
    const path = label.span.file;
    let group = groups.get(path);
    if (!group) {
      group = { path, source: sources.get(path), labels: [], lines: [] };
      groups.set(path, group);
    }
    group.labels.push(place(label, group.source));
  }
  for (const group of groups.values()) {
    if (!group.source) continue;
    const byLine = new Map<number, PlacedLabel[]>();
    for (const label of group.labels) byLine.set(label.startLine, [...(byLine.get(label.startLine) ?? []), label]);
    for (const [line, labels] of [...byLine].sort((a, b) => a[0] - b[0])) {
      labels.sort((a, b) => a.span.start - b.span.start || Number(b.primary) - Number(a.primary));
      group.lines.push({ line, labels });
    }
  }
  return [...groups.values()];
}

function place(label: { span: Span; message: string; primary: boolean }, source: SourceFile | undefined): PlacedLabel {
  if (!source) return { ...label, startLine: 0, startColumn: 0, endLine: 0 };
  const start = source.positionAt(label.span.start);
  const end = source.positionAt(label.span.end);
  // A span that ends just after a line break covers nothing of the next line.
  const endLine = label.span.end > label.span.start && end.column === 1 && end.line > start.line ? end.line - 1 : end.line;
  return { ...label, startLine: start.line, startColumn: start.column, endLine };
}

// ---------------------------------------------------------------- one source line

/** A source line as the terminal shows it: one cell per code point. */
interface DisplayLine {
  readonly cells: { text: string; column: number; width: number }[];
  /** `columnOf[i]` is the display column of UTF-16 offset `i` in the line (0-based). */
  readonly columnOf: number[];
  readonly width: number;
}

function displayLine(text: string, tabWidth: number): DisplayLine {
  const cells: DisplayLine["cells"] = [];
  const columnOf: number[] = [];
  let column = 0;
  for (let i = 0; i < text.length; ) {
    const code = text.codePointAt(i)!;
    const units = code > 0xffff ? 2 : 1;
    let shown: string;
    let width: number;
    if (code === 9) {
      width = tabWidth - (column % tabWidth);
      shown = " ".repeat(width);
    } else if (code < 0x20 || code === 0x7f) {
      shown = String.fromCodePoint(code === 0x7f ? 0x2421 : 0x2400 + code);
      width = 1;
    } else {
      shown = String.fromCodePoint(code);
      width = charWidth(code);
    }
    for (let u = 0; u < units; u++) columnOf.push(column);
    cells.push({ text: shown, column, width });
    column += width;
    i += units;
  }
  columnOf.push(column);
  return { cells, columnOf, width: column };
}

/**
 * Terminal width of a code point: 0 for combining marks, 2 for East Asian wide
 * characters and emoji, else 1. A small table, not full Unicode: enough to keep
 * markers under the right characters in the common cases.
 */
function charWidth(code: number): number {
  if ((code >= 0x300 && code <= 0x36f) || code === 0x200b || (code >= 0xfe00 && code <= 0xfe0f)) return 0;
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd);
  return wide ? 2 : 1;
}

/** How the parts of a frame are painted (identity functions when colour is off). */
interface FrameStyle {
  readonly gutter: (s: string) => string;
  /** The primary marker takes the severity's colour; secondary ones the gutter's. */
  readonly primary: (s: string) => string;
  readonly secondary: (s: string) => string;
}

/** One source line of the frame and a marker line per label on it. */
function frameLine(source: SourceFile, lineNumber: number, labels: readonly PlacedLabel[], width: number, options: RenderOptions, style: FrameStyle): string[] {
  const { gutter } = style;
  const text = source.lineText(lineNumber);
  const line = displayLine(text, options.tabWidth ?? DEFAULT_TAB_WIDTH);
  const lineStart = source.lineStart(lineNumber);

  const marks = labels.map((label) => {
    const startIndex = Math.min(label.span.start - lineStart, text.length);
    const endIndex = label.endLine > lineNumber ? text.length : Math.min(label.span.end - lineStart, text.length);
    const from = line.columnOf[startIndex]!;
    const to = Math.max(from + 1, line.columnOf[Math.max(startIndex, endIndex)]!);
    return { label, from, to };
  });

  const maxWidth = options.maxLineWidth ?? DEFAULT_MAX_LINE_WIDTH;
  const anchor = marks.find((m) => m.label.primary) ?? marks[0];
  const view = cutWindow(line, anchor ? anchor.from : 0, maxWidth);

  const shown = view.text.trimEnd();
  const out = [`${gutter(`${String(lineNumber).padStart(width)} |`)}${shown === "" ? "" : ` ${shown}`}`];
  for (const { label, from, to } of marks) {
    const a = Math.min(Math.max(from, view.start), view.end);
    const b = Math.max(a + 1, Math.min(to, view.end + 1));
    const paint = label.primary ? style.primary : style.secondary;
    const ends = label.endLine > lineNumber ? `(ends on line ${label.endLine})` : "";
    const message = [label.message, ends].filter((s) => s !== "").join(" ");
    const marker = (label.primary ? "^" : "-").repeat(b - a) + (message ? ` ${message}` : "");
    out.push(`${gutter(`${" ".repeat(width)} |`)} ${" ".repeat(a - view.start + view.shift)}${paint(marker)}`);
  }
  return out;
}

/**
 * The visible part of a long line: display columns `[start, end)`, drawn with
 * `...` where text was cut. `shift` is how far the `...` prefix moves markers.
 */
function cutWindow(line: DisplayLine, anchor: number, maxWidth: number): { text: string; start: number; end: number; shift: number } {
  if (line.width <= maxWidth) return { text: line.cells.map((c) => c.text).join(""), start: 0, end: line.width, shift: 0 };
  // Keep some context left of the span, and room for `...` on both sides.
  const room = Math.max(1, maxWidth - 2 * ELLIPSIS.length);
  const context = Math.floor(room / 4);
  const start = Math.max(0, Math.min(anchor - context, line.width - room));
  const end = Math.min(line.width, start + room);
  const inside = line.cells.filter((cell) => cell.column >= start && cell.column + cell.width <= end);
  const prefix = start > 0 ? ELLIPSIS : "";
  const suffix = end < line.width ? ELLIPSIS : "";
  return { text: prefix + inside.map((cell) => cell.text).join("") + suffix, start, end, shift: prefix.length };
}
