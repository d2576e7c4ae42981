import { Lexer, type IToken } from "chevrotain";
import { Diag } from "../compiler/diagnostics/messages.js";
import { makeDiagnostic, type Diagnostic } from "../compiler/diagnostics/diagnostic.js";
import { span } from "../compiler/source/span.js";
import type { Comment } from "./ast.js";
import { allTokens, MalformedNumber, UnterminatedComment, UnterminatedString } from "./tokens.js";

/** The one lexer of the process: building it analyses every pattern, so it is built once. */
const mhcLexer = new Lexer(allTokens as never[], {
  // Offsets only: lines and columns are computed for the few tokens a diagnostic
  // mentions, not for every token (that costs a third of the lexing time).
  positionTracking: "onlyOffset",
  ensureOptimizations: false,
  skipValidations: process.env["MHC_VALIDATE_GRAMMAR"] !== "1",
});

export interface LexResult {
  readonly tokens: IToken[];
  readonly comments: Comment[];
  readonly diagnostics: Diagnostic[];
}

/**
 * Splits text into tokens. Never throws: characters no token matches, malformed
 * numbers and unterminated strings or comments become diagnostics, and lexing
 * goes on after them.
 */
export function tokenize(text: string, file: string): LexResult {
  const result = mhcLexer.tokenize(text);
  const diagnostics: Diagnostic[] = [];
  const tokens: IToken[] = [];

  for (const error of result.errors) {
    const start = error.offset;
    const ch = text.slice(start, start + Math.max(1, error.length));
    // Report a run of bad characters once, at its first character.
    diagnostics.push(
      makeDiagnostic(Diag.UnexpectedCharacter, span(file, start, start + error.length), [printable(ch.length > 12 ? ch.slice(0, 12) + "..." : ch)], {
        label: "no token starts with this",
      }),
    );
  }

  for (const token of result.tokens) {
    // The parser's node locations are built from each token's end offset.
    token.endOffset = token.startOffset + token.image.length - 1;
    const where = span(file, token.startOffset, token.startOffset + token.image.length);
    if (token.tokenType === MalformedNumber) {
      diagnostics.push(makeDiagnostic(Diag.MalformedNumber, where, [token.image], { label: "the exponent has no digits", help: "write an exponent such as `1e-6`" }));
      continue;
    }
    if (token.tokenType === UnterminatedString) {
      diagnostics.push(makeDiagnostic(Diag.UnterminatedString, where, [], { label: "this string has no closing `\"` on its line" }));
      continue;
    }
    tokens.push(token);
  }

  const comments: Comment[] = [];
  for (const token of result.groups["comments"] ?? []) {
    const where = span(file, token.startOffset, token.startOffset + token.image.length);
    if (token.tokenType === UnterminatedComment) {
      diagnostics.push(makeDiagnostic(Diag.UnterminatedComment, span(file, where.start, where.start + 2), [], { label: "this `/*` is never closed", help: "close the comment with `*/`" }));
      continue;
    }
    comments.push({ text: token.image, span: where });
  }
  return { tokens, comments, diagnostics };
}

/** Shows control and invisible characters by their code point. */
function printable(text: string): string {
  return Array.from(text)
    .map((ch) => {
      const code = ch.codePointAt(0) ?? 0;
      if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0) || code === 0xfffd || code === 0x200b) {
        return `\\u{${code.toString(16)}}`;
      }
      return ch === "`" ? "\\`" : ch;
    })
    .join("");
}
