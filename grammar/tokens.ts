import { createToken, Lexer, type TokenType } from "chevrotain";

/*
 * The vocabulary of `.mhc`. Order matters: whitespace and comments first (the
 * most frequent tokens), keywords before `Identifier` (each keyword has
 * `longer_alt: Identifier` so `letter` is one identifier, not `let` + `ter`),
 * longer operators before their prefixes.
 */

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: "comments" });
export const BlockComment = createToken({
  name: "BlockComment",
  pattern: /\/\*[^*]*\*+(?:[^/*][^*]*\*+)*\//,
  group: "comments",
  line_breaks: true,
});

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

/** The category of every reserved word, so the grammar can accept one where a name goes and report it well. */
export const Keyword = createToken({ name: "Keyword", pattern: Lexer.NA });

function keyword(word: string): TokenType {
  const name = "Kw" + word[0]!.toUpperCase() + word.slice(1);
  return createToken({ name, pattern: new RegExp(word), longer_alt: Identifier, categories: [Keyword] });
}

export const KwImport = keyword("import");
export const KwConstraint = keyword("constraint");
export const KwConnection = keyword("connection");
export const KwModel = keyword("model");
export const KwBlock = keyword("block");
export const KwLet = keyword("let");
export const KwRepeat = keyword("repeat");
export const KwReturn = keyword("return");
export const KwWith = keyword("with");
export const KwStatic = keyword("static");
export const KwDynamic = keyword("dynamic");
export const KwInit = keyword("init");
export const KwTrue = keyword("true");
export const KwFalse = keyword("false");

/** Reserved words, in the order design.md lists them. */
export const keywordTokens: readonly TokenType[] = [
  KwImport, KwConstraint, KwConnection, KwModel, KwBlock, KwLet, KwRepeat,
  KwReturn, KwWith, KwStatic, KwDynamic, KwInit, KwTrue, KwFalse,
];
export const keywords: ReadonlySet<string> = new Set([
  "import", "constraint", "connection", "model", "block", "let", "repeat",
  "return", "with", "static", "dynamic", "init", "true", "false",
]);

// Numbers: `20`, `0.01`, `1e-6`, `2.`, `.5`. A malformed exponent (`1e`, `1e+`)
// is its own token so the lexer can report it precisely instead of splitting it.
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/,
});
export const MalformedNumber = createToken({
  name: "MalformedNumber",
  pattern: /(?:\d+\.\d*|\.\d+|\d+)[eE](?:[+-](?!\d)|(?![+\-\d]))/,
});
export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"(?:[^"\\\n\r]|\\.)*/ });
export const UnterminatedComment = createToken({ name: "UnterminatedComment", pattern: /\/\*[\s\S]*/, group: "comments", line_breaks: true });

export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const DotT = createToken({ name: "DotT", pattern: /\.T(?![A-Za-z0-9_])/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /]/ });
export const LBrace = createToken({ name: "LBrace", pattern: /{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /}/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Equals = createToken({ name: "Equals", pattern: /=/ });

export const AdditiveOperator = createToken({ name: "AdditiveOperator", pattern: Lexer.NA });
export const Plus = createToken({ name: "Plus", pattern: /\+/, categories: AdditiveOperator });
export const Minus = createToken({ name: "Minus", pattern: /-/, categories: AdditiveOperator });
export const MultiplicativeOperator = createToken({ name: "MultiplicativeOperator", pattern: Lexer.NA });
export const Star = createToken({ name: "Star", pattern: /\*/, categories: MultiplicativeOperator });
export const Slash = createToken({ name: "Slash", pattern: /\//, categories: MultiplicativeOperator });
export const At = createToken({ name: "At", pattern: /@/ });

export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  Keyword,
  LineComment,
  BlockComment,
  UnterminatedComment,
  ...keywordTokens,
  Identifier,
  MalformedNumber,
  NumberLiteral,
  DotT,
  StringLiteral,
  UnterminatedString,
  Arrow,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  Comma,
  Colon,
  Equals,
  AdditiveOperator,
  Plus,
  Minus,
  MultiplicativeOperator,
  Star,
  Slash,
  At,
];

/** Tokens that the lexer produces only to report them; the parser never sees them. */
export const errorTokens: ReadonlySet<TokenType> = new Set([MalformedNumber, UnterminatedString, UnterminatedComment]);

/** How a token type is named in "expected X, found Y" messages. */
export function describeTokenType(type: TokenType): string {
  switch (type) {
    case Identifier: return "a name";
    case NumberLiteral: return "a number";
    case StringLiteral: return "a string";
    case AdditiveOperator: return "`+` or `-`";
    case MultiplicativeOperator: return "`*` or `/`";
    case Keyword: return "a keyword";
    default: {
      const pattern = type.PATTERN;
      if (pattern instanceof RegExp) return "`" + pattern.source.replace(/\\/g, "").replace(/\(\?!.*\)$/, "") + "`";
      return type.name;
    }
  }
}
