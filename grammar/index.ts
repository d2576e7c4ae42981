import type { IToken } from "chevrotain";
import { Diag } from "../compiler/diagnostics/messages.js";
import { makeDiagnostic, type Diagnostic } from "../compiler/diagnostics/diagnostic.js";
import { closestName } from "../compiler/diagnostics/suggest.js";
import { SourceFile } from "../compiler/source/source-file.js";
import { span } from "../compiler/source/span.js";
import type { Decl, FileAst } from "./ast.js";
import { CstToAst } from "./cst-to-ast.js";
import type * as C from "./cst.generated.js";
import { tokenize } from "./lexer.js";
import { parseDeclaration } from "./parser.js";
import { describeToken, syntaxDiagnostics } from "./syntax-errors.js";
import { Identifier, KwConnection, KwConstraint, KwImport, KwModel, LBrace, LBracket, LParen, Minus, RBrace, RBracket, RParen } from "./tokens.js";

export interface ParseResult {
  readonly ast: FileAst;
  readonly diagnostics: Diagnostic[];
}

/**
 * Parses one `.mhc` file. Never throws on user input: every problem is a
 * diagnostic and the AST holds every declaration that could be recovered.
 *
 * The token stream is first cut into top-level declarations (each starts at
 * `import`, `constraint`, `connection` or `model`), and each is parsed on its
 * own: a syntax error in one declaration cannot cascade into the next.
 */
export function parse(text: string, file: string): ParseResult {
  const lexed = tokenize(text, file);
  const diagnostics: Diagnostic[] = [...lexed.diagnostics];
  const decls: Decl[] = [];
  const toAst = new CstToAst(file);
  const lines = new SourceFile(file, text);
  const lineOf = (offset: number) => lines.positionAt(offset).line;

  const segments = splitDeclarations(lexed.tokens);
  segments.forEach((segment, index) => {
    const head = segment[0]!;
    const nextStart = segments[index + 1]?.[0]?.startOffset ?? text.length;
    const last = segment[segment.length - 1]!;
    const segmentEnd = last.startOffset + last.image.length;
    if (!isDeclarationStart(head)) {
      diagnostics.push(strayTopLevel(head, file));
      return;
    }
    const tooDeep = firstTooDeep(segment);
    if (tooDeep) {
      diagnostics.push(makeDiagnostic(Diag.NestedTooDeeply, span(file, tooDeep.startOffset, tooDeep.startOffset + tooDeep.image.length), [MAX_NESTING], { label: "this level is too deep", help: "split the expression with `let`" }));
      return;
    }
    const { cst, errors } = parseDeclaration(segment);
    // What the lexer rejected (a stray character, an unterminated string or
    // comment) is the root cause of any parse error after it in the same
    // declaration, and of its running out of tokens: report it alone.
    const lexError = lexed.diagnostics.find((d) => d.span && d.span.start >= head.startOffset && d.span.start < nextStart);
    const reservedBefore = toAst.diagnostics.length;
    const decl = toAst.declaration(cst as C.DeclarationCstNode);
    // A reserved word bound as a name (`let init = ...`) was reported there;
    // its later uses fail to parse for the same reason and are not reported again.
    const reservedNames = new Set(toAst.diagnostics.slice(reservedBefore).map((d) => (d.span ? text.slice(d.span.start, d.span.end) : "")));
    const syntax = syntaxDiagnostics(errors, file, segmentEnd, lineOf).filter((d) => {
      if (d.span && reservedNames.has(text.slice(d.span.start, d.span.end))) return false;
      if (!lexError) return true;
      const at = d.span?.start ?? 0;
      return at < lexError.span!.start && at < segmentEnd;
    });
    diagnostics.push(...syntax);
    if (decl) decls.push(decl.kind === "Constraint" && (errors.length > 0 || lexError) ? { ...decl, recovered: true } : decl);
  });

  diagnostics.push(...toAst.diagnostics);
  return {
    ast: { kind: "File", file, decls, comments: lexed.comments, span: span(file, 0, text.length) },
    diagnostics,
  };
}

const declarationKeywords = ["import", "constraint", "connection", "model"];

/**
 * Nesting (parentheses, brackets, chains of unary minus) deeper than this is
 * refused before parsing: the parser and checker recurse once per level, and
 * no real program comes near it.
 */
export const MAX_NESTING = 64;

function firstTooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  let minusRun = 0;
  for (const token of tokens) {
    const t = token.tokenType;
    if (t === LParen || t === LBracket) depth++;
    else if ((t === RParen || t === RBracket) && depth > 0) depth--;
    minusRun = t === Minus ? minusRun + 1 : 0;
    if (depth + minusRun > MAX_NESTING) return token;
  }
  return undefined;
}

function isDeclarationStart(token: IToken): boolean {
  const t = token.tokenType;
  return t === KwImport || t === KwConstraint || t === KwConnection || t === KwModel;
}

function strayTopLevel(token: IToken, file: string): Diagnostic {
  const where = span(file, token.startOffset, token.startOffset + token.image.length);
  if (token.tokenType === Identifier) {
    const keyword = closestName(token.image, declarationKeywords);
    if (keyword) {
      return makeDiagnostic(Diag.MisspeltKeyword, where, [token.image], { label: "not a declaration keyword", help: `did you mean \`${keyword}\`?` });
    }
  }
  return makeDiagnostic(Diag.ExpectedToken, where, ["a declaration", describeToken(token)], {
    label: "expected `import`, `constraint`, `connection` or `model`",
    help: "a file is a list of `import`, `constraint`, `connection` and `model` declarations",
  });
}

/**
 * Cuts tokens into declarations. `import`, `constraint` and `model` always
 * start one (they cannot appear inside a declaration, so a missing `}` does not
 * swallow the rest of the file); `connection` starts one at brace depth 0, or
 * deeper when it is followed by `NAME {` or `NAME (...) {`, as only a
 * declaration is (the model field `connection mhc(n = 4)` is not).
 */
export function splitDeclarations(tokens: readonly IToken[]): IToken[][] {
  const segments: IToken[][] = [];
  let current: IToken[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const t = token.tokenType;
    const starts =
      t === KwImport || t === KwConstraint || t === KwModel
        ? true
        : t === KwConnection
          ? depth === 0 || looksLikeConnectionDeclaration(tokens, i)
          : current.length === 0;
    if (starts && current.length > 0) {
      segments.push(current);
      current = [];
    }
    if (starts) depth = 0;
    if (t === LBrace) depth++;
    else if (t === RBrace) depth = Math.max(0, depth - 1);
    current.push(token);
    // A stray token at the top level forms a segment that ends at the next keyword.
  }
  if (current.length > 0) segments.push(current);
  return segments;
}

function looksLikeConnectionDeclaration(tokens: readonly IToken[], i: number): boolean {
  if (tokens[i + 1]?.tokenType !== Identifier) return false;
  let j = i + 2;
  if (tokens[j]?.tokenType === LBrace) return true;
  if (tokens[j]?.tokenType !== LParen) return false;
  let parens = 0;
  for (; j < tokens.length; j++) {
    const t = tokens[j]!.tokenType;
    if (t === LParen) parens++;
    else if (t === RParen && --parens === 0) return tokens[j + 1]?.tokenType === LBrace;
  }
  return false;
}

export type { FileAst } from "./ast.js";
