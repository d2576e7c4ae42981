import { describe, expect, it } from "vitest";
import { tokenize } from "../../grammar/lexer.js";

const kinds = (text: string) => tokenize(text, "t.mhc").tokens.map((t) => `${t.tokenType.name}:${t.image}`);
const codes = (text: string) => tokenize(text, "t.mhc").diagnostics.map((d) => `${d.code}@${d.span?.start}-${d.span?.end}`);

describe("lexer", () => {
  it("keeps keywords whole and lets identifiers that start with one be identifiers", () => {
    expect(kinds("let letter repeat repeats import_ model models with")).toEqual([
      "KwLet:let", "Identifier:letter", "KwRepeat:repeat", "Identifier:repeats", "Identifier:import_", "KwModel:model", "Identifier:models", "KwWith:with",
    ]);
  });

  it("reads every number form of the language", () => {
    expect(kinds("20 0.01 1e-6 2. .5 3E+2 7e0")).toEqual([
      "NumberLiteral:20", "NumberLiteral:0.01", "NumberLiteral:1e-6", "NumberLiteral:2.", "NumberLiteral:.5", "NumberLiteral:3E+2", "NumberLiteral:7e0",
    ]);
  });

  it("separates `.T` from a following identifier character", () => {
    expect(kinds("M.T @ X.T")).toEqual(["Identifier:M", "DotT:.T", "At:@", "Identifier:X", "DotT:.T"]);
    expect(codes("M.Tx")).toEqual(["MHC1001@1-2"]);
  });

  it("puts comments in their own group and skips whitespace", () => {
    const result = tokenize("a // line\n/* block\n spans */ b", "t.mhc");
    expect(result.tokens.map((t) => t.image)).toEqual(["a", "b"]);
    expect(result.comments.map((c) => c.text)).toEqual(["// line", "/* block\n spans */"]);
    expect(result.diagnostics).toEqual([]);
  });

  it("reports a malformed exponent as one token", () => {
    expect(codes("1e + 2")).toEqual(["MHC1004@0-2"]);
    expect(codes("3.5e-")).toEqual(["MHC1004@0-5"]);
  });

  it("reports unterminated strings and comments and keeps going", () => {
    expect(codes('import "oops\nmodel m {}')).toEqual(["MHC1003@7-12"]);
    expect(codes("a /* never closed")).toEqual(["MHC1002@2-4"]);
  });

  it("reports each run of unknown characters once and lexes past it", () => {
    const result = tokenize("a $$ b ; c", "t.mhc");
    expect(result.diagnostics.map((d) => `${d.code}@${d.span?.start}-${d.span?.end}`)).toEqual(["MHC1001@2-4", "MHC1001@7-8"]);
    expect(result.tokens.map((t) => t.image)).toEqual(["a", "b", "c"]);
  });

  it("names invisible characters by code point", () => {
    const [d] = tokenize("a \u0007 b", "t.mhc").diagnostics;
    expect(d?.message).toContain("\\u{7}");
  });
});
