import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../compiler/diagnostics/render.js";
import { SourceSet } from "../../compiler/source/source-set.js";
import { parse } from "../../grammar/index.js";

/**
 * Goldens for real diagnostics: each input goes through `parse()` and the
 * exact frame text (colours off) is pinned, so a change to the renderer or to
 * a syntax message shows up as a reviewable text diff.
 */
function check(text: string, file = "bad.mhc"): string {
  const sources = new SourceSet();
  sources.add(file, text);
  return renderDiagnostics(parse(text, file).diagnostics, sources, { color: false });
}

describe("renderer goldens from parse()", () => {
  it("renders an unexpected character alone, without the parse error it causes", () => {
    const text = "constraint f(L: [n, n]) -> [n, n] {\n  let M = L $ 2\n  return M\n}\n";
    expect(check(text)).toBe(
      [
        "error[MHC1001]: unexpected character `$`",
        " --> bad.mhc:2:13",
        "  |",
        "2 |   let M = L $ 2",
        "  |             ^ no token starts with this",
        "",
      ].join("\n"),
    );
  });

  it("renders a misspelt keyword with its help", () => {
    expect(check("constrant f(L: [n]) -> [n] { return L }\n")).toBe(
      [
        "error[MHC1013]: unknown declaration keyword `constrant`",
        " --> bad.mhc:1:1",
        "  |",
        "1 | constrant f(L: [n]) -> [n] { return L }",
        "  | ^^^^^^^^^ not a declaration keyword",
        "  = help: did you mean `constraint`?",
        "",
      ].join("\n"),
    );
  });

  it("widens the gutter for two-digit line numbers", () => {
    const text = "// padding\n".repeat(9) + "constraint f(L: [n]) -> [n] {\n  let M = L * * 2\n  return M\n}\n";
    expect(check(text)).toBe(
      [
        "error[MHC1011]: unexpected `*` in an expression",
        "  --> bad.mhc:11:15",
        "   |",
        "11 |   let M = L * * 2",
        "   |               ^ unexpected here",
        "   = help: expected an expression",
        "",
      ].join("\n"),
    );
  });

  it("expands tabs so the marker stays under the token", () => {
    const text = "constraint f(L: [n]) -> [n] {\n\tlet let = L\n\treturn L\n}\n";
    expect(check(text)).toBe(
      [
        "error[MHC1014]: `let` is a reserved keyword and cannot be used as a name",
        " --> bad.mhc:2:6",
        "  |",
        "2 |     let let = L",
        "  |         ^^^ reserved keyword",
        "  = help: pick another name, such as `let_`",
        "",
      ].join("\n"),
    );
  });

  it("points after the last token when a declaration ends early (no final newline)", () => {
    expect(check("model tiny {\n  vocab 256")).toBe(
      [
        "error[MHC1010]: expected `}`, found the end of the declaration",
        " --> bad.mhc:2:12",
        "  |",
        "2 |   vocab 256",
        "  |            ^ expected `}`",
        "",
      ].join("\n"),
    );
  });

  it("renders files with CRLF line ends like LF files", () => {
    const lf = "constraint f(L: [n]) -> [n] {\n  let M = L ]\n  return M\n}\n";
    const crlf = lf.replace(/\n/g, "\r\n");
    const expected = [
      "error[MHC1010]: expected `}`, found `]`",
      " --> bad.mhc:2:13",
      "  |",
      "2 |   let M = L ]",
      "  |             ^ expected `}`",
      "",
    ].join("\n");
    expect(check(lf)).toBe(expected);
    expect(check(crlf)).toBe(expected);
  });

  it("renders an unterminated comment at the start of the file", () => {
    expect(check("/* open\n comment")).toBe(
      [
        "error[MHC1002]: unterminated block comment",
        " --> bad.mhc:1:1",
        "  |",
        "1 | /* open",
        "  | ^^ this `/*` is never closed",
        "  = help: close the comment with `*/`",
        "",
      ].join("\n"),
    );
  });
});
