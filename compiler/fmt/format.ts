import type { Comment, ConstraintDecl, Decl, Field, FileAst, Param, Stmt, TypeRef } from "../../grammar/ast.js";
import { parse } from "../../grammar/index.js";
import { tokenize } from "../../grammar/lexer.js";
import { printExpr } from "../../grammar/print-expr.js";
import type { Diagnostic } from "../diagnostics/diagnostic.js";
import { LineWriter } from "./line-writer.js";

export type FormatResult =
  | {
      readonly ok: true;
      readonly text: string;
      readonly changed: boolean;
      /** Items kept as written because a comment sits inside them. */
      readonly keptAsWritten: number;
    }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

const INDENT = "  ";
/** Map fields are padded to the longest of them so `pre`, `post` and `res` line up. */
const MAP_FIELDS = new Set(["pre", "post", "res"]);
const MAP_WIDTH = 4;

/**
 * `mhc fmt`: the canonical layout of a `.mhc` file. It is printed from the AST, so
 * it cannot change meaning (the formatter tests compare the ASTs before and after),
 * and every comment is kept: own-line comments before the item that follows them,
 * end-of-line comments after the item they follow, aligned in a column per group of
 * lines. An item with a comment inside it (say, in the middle of a call that spans
 * lines) is kept as written, re-indented on its first line only. A file with syntax
 * errors is not formatted: its diagnostics are returned instead.
 */
export function formatSource(text: string, file: string): FormatResult {
  const parsed = parse(text, file);
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0) return { ok: false, diagnostics: parsed.diagnostics };
  const formatter = new Formatter(text, parsed.ast);
  const formatted = formatter.run();
  return { ok: true, text: formatted, changed: formatted !== text, keptAsWritten: formatter.keptAsWritten };
}

class Formatter {
  private readonly out = new LineWriter();
  private readonly comments: readonly Comment[];
  private nextComment = 0;
  /** Offsets of `{` and `}` tokens, to find where headers end and blocks close. */
  private readonly braces: { readonly open: number[]; readonly close: number[] };
  /** End offset of the last thing printed, for blank-line and same-line decisions. */
  private cursor = 0;
  keptAsWritten = 0;

  constructor(
    private readonly text: string,
    private readonly ast: FileAst,
  ) {
    this.comments = [...ast.comments].sort((a, b) => a.span.start - b.span.start);
    const open: number[] = [];
    const close: number[] = [];
    for (const t of tokenize(text, ast.file).tokens) {
      if (t.image === "{") open.push(t.startOffset);
      else if (t.image === "}") close.push(t.startOffset);
    }
    this.braces = { open, close };
  }

  run(): string {
    this.ast.decls.forEach((decl, i) => {
      const previous = this.ast.decls[i - 1];
      // Declarations other than consecutive imports are separated by a blank line.
      const forceBlank = previous !== undefined && !(previous.kind === "Import" && decl.kind === "Import");
      this.declaration(decl, forceBlank);
    });
    this.leadingComments(this.text.length, 0);
    return this.out.toString();
  }

  // ---- declarations ---------------------------------------------------------

  private declaration(decl: Decl, forceBlank: boolean): void {
    switch (decl.kind) {
      case "Import":
        this.item(decl.span.start, decl.span.end, 0, () => `import ${this.text.slice(decl.pathSpan.start, decl.pathSpan.end)}`, forceBlank);
        return;
      case "Constraint":
        this.constraint(decl, forceBlank);
        return;
      case "Connection": {
        const params = decl.params.length > 0 ? `(${decl.params.map((p) => this.param(p)).join(", ")})` : "";
        this.block(decl.span, 0, () => `connection ${decl.name.name}${params} {`, forceBlank, () => this.fields(decl.fields, 1, true));
        return;
      }
      case "Model":
        this.block(decl.span, 0, () => `model ${decl.name.name} {`, forceBlank, () => this.fields(decl.fields, 1, false));
        return;
    }
  }

  private constraint(decl: ConstraintDecl, forceBlank: boolean): void {
    const header = () => `constraint ${decl.name.name}(${decl.params.map((p) => this.param(p)).join(", ")}) -> ${this.type(decl.result)} {`;
    this.block(decl.span, 0, header, forceBlank, () => this.statements(decl.body, 1));
  }

  private param(p: Param): string {
    return `${p.name.name}: ${this.type(p.type)}${p.default ? ` = ${printExpr(p.default)}` : ""}`;
  }

  private type(t: TypeRef): string {
    return t.kind === "NamedType" ? t.name.name : `[${t.dims.map((d) => printExpr(d)).join(", ")}]`;
  }

  // ---- bodies ---------------------------------------------------------------

  private statements(body: readonly Stmt[], depth: number): void {
    for (const s of body) {
      switch (s.kind) {
        case "Let":
          this.item(s.span.start, s.span.end, depth, () => `let ${s.name.name} = ${printExpr(s.value)}`);
          break;
        case "Assign":
          this.item(s.span.start, s.span.end, depth, () => `${s.name.name} = ${printExpr(s.value)}`);
          break;
        case "Return":
          this.item(s.span.start, s.span.end, depth, () => `return ${printExpr(s.value)}`);
          break;
        case "Repeat":
          this.block(s.span, depth, () => `repeat ${printExpr(s.count)} {`, false, () => this.statements(s.body, depth + 1));
          break;
      }
    }
  }

  private fields(fields: readonly Field[], depth: number, isConnection: boolean): void {
    for (const f of fields) {
      if (f.kind === "Block") {
        this.block(f.span, depth, () => "block {", false, () => {
          for (const s of f.sublayers) {
            this.item(s.span.start, s.span.end, depth + 1, () => printExpr(s.call) + (s.connection ? ` with ${printExpr(s.connection)}` : ""));
          }
        });
        continue;
      }
      const name = isConnection && MAP_FIELDS.has(f.name.name) ? f.name.name.padEnd(MAP_WIDTH) : f.name.name;
      const mode = f.mode ? ` ${f.mode.value}` : "";
      const init = f.init ? ` init ${printExpr(f.init)}` : "";
      this.item(f.span.start, f.span.end, depth, () => `${name}${mode} ${printExpr(f.value)}${init}`);
    }
  }

  // ---- layout ---------------------------------------------------------------

  /**
   * A braced construct spanning `span`: its header up to the first `{` inside it,
   * its contents, and its closing `}` (the last `}` inside the span).
   */
  private block(span: { start: number; end: number }, depth: number, header: () => string, forceBlank: boolean, contents: () => void): void {
    const open = this.braces.open.find((o) => o >= span.start && o < span.end)!;
    const close = [...this.braces.close].reverse().find((c) => c >= span.start && c < span.end)!;
    this.item(span.start, open + 1, depth, header, forceBlank);
    contents();
    // Comments after the last item belong to the contents, not to the brace.
    this.leadingComments(close, depth + 1);
    this.item(close, close + 1, depth, () => "}");
  }

  /**
   * One printed line for the source range [start, end): the comments before it,
   * a blank line if the source had one (or `forceBlank`), the line itself, and an
   * end-of-line comment that follows it on the same source line.
   */
  private item(start: number, end: number, depth: number, print: () => string, forceBlank = false): void {
    const hadComments = this.leadingComments(start, depth, forceBlank);
    const blank = (forceBlank && !hadComments) || this.blankLineBetween(this.cursor, start);
    const inner = this.commentsWithin(start, end);
    if (inner) this.keptAsWritten++;
    const content = inner ? this.verbatim(start, end, depth) : INDENT.repeat(depth) + print();
    this.out.line(content, { blankBefore: blank && this.out.hasLines(), depth, multiLine: inner });
    this.cursor = end;
    this.trailingComment(end);
  }

  /** Prints the comments before `before` on their own lines; true when there were any. */
  private leadingComments(before: number, depth: number, forceBlank = false): boolean {
    let first = true;
    while (this.nextComment < this.comments.length && this.comments[this.nextComment]!.span.start < before) {
      const c = this.comments[this.nextComment++]!;
      const blank = (first && forceBlank) || this.blankLineBetween(this.cursor, c.span.start);
      this.out.line(INDENT.repeat(depth) + c.text.trimEnd(), { blankBefore: blank && this.out.hasLines(), depth, multiLine: true });
      this.cursor = c.span.end;
      first = false;
    }
    return !first;
  }

  private trailingComment(after: number): void {
    const c = this.comments[this.nextComment];
    // Only whitespace may separate an end-of-line comment from the item it follows.
    if (!c || !/^[ \t]*$/.test(this.text.slice(after, c.span.start))) return;
    this.nextComment++;
    this.out.trailing(c.text.trimEnd());
    this.cursor = c.span.end;
  }

  /** Marks the comments inside [start, end) as printed; true when there were any. */
  private commentsWithin(start: number, end: number): boolean {
    let any = false;
    while (this.nextComment < this.comments.length && this.comments[this.nextComment]!.span.start < end) {
      if (this.comments[this.nextComment]!.span.start < start) break;
      this.nextComment++;
      any = true;
    }
    return any;
  }

  /** The source of [start, end) as written, its first line re-indented. */
  private verbatim(start: number, end: number, depth: number): string {
    return INDENT.repeat(depth) + this.text.slice(start, end).trimEnd();
  }

  private blankLineBetween(from: number, to: number): boolean {
    return from < to && /\n[ \t\r\f\v]*\n/.test(this.text.slice(from, to));
  }
}
