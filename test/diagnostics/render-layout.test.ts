import { describe, expect, it } from "vitest";
import { makeDiagnostic, type DiagnosticExtras } from "../../compiler/diagnostics/diagnostic.js";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { renderDiagnostic, renderDiagnostics, type RenderOptions } from "../../compiler/diagnostics/render.js";
import { SourceSet } from "../../compiler/source/source-set.js";
import { span, type Span } from "../../compiler/source/span.js";

/**
 * Frame layout on hand-made diagnostics: the cases `parse()` cannot produce
 * (secondary labels, other files, multi-line spans, long lines, no span).
 */

/** The span of the `nth` occurrence of `needle` in `text`. */
function find(file: string, text: string, needle: string, nth = 1): Span {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`${needle} not in text`);
  }
  return span(file, at, at + needle.length);
}

function sourcesOf(files: Record<string, string>): SourceSet {
  const sources = new SourceSet();
  for (const [path, text] of Object.entries(files)) sources.add(path, text);
  return sources;
}

/** Renders an MHC2001 ("cannot find `x`") at `at` with the given extras. */
function render(at: Span | undefined, sources: SourceSet, extras: DiagnosticExtras = {}, options: Partial<RenderOptions> = {}): string {
  return renderDiagnostic(makeDiagnostic(Diag.UnknownName, at, ["x"], extras), sources, { color: false, ...options });
}

const lines = (...text: string[]) => text.join("\n") + "\n";
const HEADER = "error[MHC2001]: cannot find `x` in this scope";

describe("frame layout", () => {
  it("matches the layout pinned in design.md §2.5", () => {
    const text = "// filler\n".repeat(11) + "  M = M / ones([n, 2])\n  return M\n";
    const sources = sourcesOf({ "examples/bad.mhc": text });
    const at = find("examples/bad.mhc", text, "M / ones([n, 2])");
    const d = makeDiagnostic(Diag.ShapeMismatch, at, ["/", "[n, n]", "[n, 2]"], { label: "cannot broadcast [n, 2] against [n, n]", help: "..." });
    // design.md's header says 12:9, but its carets (and this span) start at column 7.
    expect(renderDiagnostic(d, sources, { color: false })).toBe(
      lines(
        "error[MHC3002]: shape mismatch in `/`: [n, n] and [n, 2]",
        "  --> examples/bad.mhc:12:7",
        "   |",
        "12 |   M = M / ones([n, 2])",
        "   |       ^^^^^^^^^^^^^^^^ cannot broadcast [n, 2] against [n, n]",
        "   = help: ...",
      ),
    );
  });

  it("shows same-file secondary labels in line order, one marker line per label", () => {
    const text = "let a = 1\nfiller\nfiller\nlet b = 2\nfiller\nuse(a, b)\n";
    const f = "f.mhc";
    const out = render(find(f, text, "b", 2), sourcesOf({ [f]: text }), {
      label: "used here",
      secondary: [
        { span: find(f, text, "b = 2"), message: "`b` defined here" },
        { span: find(f, text, "a"), message: "`a` defined here" },
        { span: find(f, text, "a", 2), message: "and `a`" },
      ],
    });
    expect(out).toBe(
      lines(
        HEADER,
        " --> f.mhc:6:8",
        "  |",
        "1 | let a = 1",
        "  |     - `a` defined here",
        "...",
        "4 | let b = 2",
        "  |     ----- `b` defined here",
        "5 | filler",
        "6 | use(a, b)",
        "  |     - and `a`",
        "  |        ^ used here",
      ),
    );
  });

  it("gives secondary labels in other files their own header, with one gutter width", () => {
    const main = "// main\n".repeat(11) + "use(shared)\n";
    const lib = "constraint shared(L: [n]) -> [n] { return L }\n";
    const sources = sourcesOf({ "main.mhc": main, "lib/shared.mhc": lib });
    const out = render(find("main.mhc", main, "shared"), sources, {
      label: "used here",
      secondary: [{ span: find("lib/shared.mhc", lib, "shared"), message: "declared here" }],
      notes: ["imported from `lib/shared.mhc`"],
      help: "rename one of them",
    });
    expect(out).toBe(
      lines(
        HEADER,
        "  --> main.mhc:12:5",
        "   |",
        "12 | use(shared)",
        "   |     ^^^^^^ used here",
        "   |",
        "  --> lib/shared.mhc:1:12",
        "   |",
        " 1 | constraint shared(L: [n]) -> [n] { return L }",
        "   |            ------ declared here",
        "   = note: imported from `lib/shared.mhc`",
        "   = help: rename one of them",
      ),
    );
  });

  it("marks the first line of a multi-line span and says where it ends", () => {
    const text = "model tiny {\n  vocab 256\n  dim 128\n}\n";
    const whole = span("m.mhc", text.indexOf("{"), text.length);
    expect(render(whole, sourcesOf({ "m.mhc": text }), { label: "this block" })).toBe(
      lines(HEADER, " --> m.mhc:1:12", "  |", "1 | model tiny {", "  |            ^ this block (ends on line 4)"),
    );
  });

  it("treats a span that ends just after a line break as ending on that line", () => {
    const text = "abc\ndef\n";
    expect(render(span("t.mhc", 0, 4), sourcesOf({ "t.mhc": text }), { label: "l" })).toBe(lines(HEADER, " --> t.mhc:1:1", "  |", "1 | abc", "  | ^^^ l"));
  });

  it("gives a zero-width span one caret, also at the end of a line and of the file", () => {
    const text = "abc\nxyz";
    const sources = sourcesOf({ "z.mhc": text });
    expect(render(span("z.mhc", 1, 1), sources, { label: "here" })).toBe(lines(HEADER, " --> z.mhc:1:2", "  |", "1 | abc", "  |  ^ here"));
    expect(render(span("z.mhc", 3, 3), sources)).toBe(lines(HEADER, " --> z.mhc:1:4", "  |", "1 | abc", "  |    ^"));
    expect(render(span("z.mhc", 7, 7), sources, { label: "end of file" })).toBe(lines(HEADER, " --> z.mhc:2:4", "  |", "2 | xyz", "  |    ^ end of file"));
  });

  it("shows a span at the end of a file that ends with a newline on the empty last line", () => {
    const text = "abc\n";
    expect(render(span("e.mhc", 4, 4), sourcesOf({ "e.mhc": text }), { label: "eof" })).toBe(lines(HEADER, " --> e.mhc:2:1", "  |", "2 |", "  | ^ eof"));
  });

  it("renders an empty file", () => {
    expect(render(span("empty.mhc", 0, 0), sourcesOf({ "empty.mhc": "" }))).toBe(lines(HEADER, " --> empty.mhc:1:1", "  |", "1 |", "  | ^"));
  });

  it("expands tabs to tab stops, before and inside the span", () => {
    const text = "a\tb\t\tc\n";
    const sources = sourcesOf({ "t.mhc": text });
    // a at 0, b at 4, c at 12 (tab stops every 4 columns).
    expect(render(find("t.mhc", text, "c"), sources)).toBe(lines(HEADER, " --> t.mhc:1:6", "  |", "1 | a   b       c", "  |             ^"));
    expect(render(find("t.mhc", text, "b\t\tc"), sources)).toBe(lines(HEADER, " --> t.mhc:1:3", "  |", "1 | a   b       c", "  |     ^^^^^^^^^"));
    expect(render(find("t.mhc", text, "c"), sources, {}, { tabWidth: 2 })).toBe(lines(HEADER, " --> t.mhc:1:6", "  |", "1 | a b   c", "  |       ^"));
  });

  it("shows control characters as visible symbols of width one", () => {
    const text = "a\u0000b\n";
    expect(render(find("c.mhc", text, "b"), sourcesOf({ "c.mhc": text }))).toBe(lines(HEADER, " --> c.mhc:1:3", "  |", "1 | a\u2400b", "  |   ^"));
  });

  it("keeps markers under wide characters and astral code points", () => {
    const text = "名前 = 😀 + x\n";
    // 名 and 前 take two columns each; 😀 is two UTF-16 units and two columns.
    expect(render(find("w.mhc", text, "x"), sourcesOf({ "w.mhc": text }))).toBe(lines(HEADER, " --> w.mhc:1:11", "  |", "1 | 名前 = 😀 + x", `  | ${" ".repeat(12)}^`));
  });

  it("cuts long lines around the span with `...`", () => {
    const text = "x".repeat(300) + "TARGET" + "y".repeat(300) + "\n";
    const sources = sourcesOf({ "long.mhc": text });
    const out = render(find("long.mhc", text, "TARGET"), sources, { label: "here" }, { maxLineWidth: 40 });
    // 34 columns of text between the two `...`: 8 of context, then the span.
    expect(out).toBe(
      lines(HEADER, " --> long.mhc:1:301", "  |", `1 | ...${"x".repeat(8)}TARGET${"y".repeat(20)}...`, `  | ${" ".repeat(11)}^^^^^^ here`),
    );
    const atStart = render(span("long.mhc", 0, 1), sources, {}, { maxLineWidth: 40 });
    expect(atStart).toBe(lines(HEADER, " --> long.mhc:1:1", "  |", `1 | ${"x".repeat(34)}...`, "  | ^"));
    const atEnd = render(span("long.mhc", 605, 606), sources, {}, { maxLineWidth: 40 });
    expect(atEnd).toBe(lines(HEADER, " --> long.mhc:1:606", "  |", `1 | ...${"y".repeat(34)}`, `  | ${" ".repeat(36)}^`));
  });

  it("clips a span longer than the window at the window's edge", () => {
    const text = "a".repeat(10) + "b".repeat(100) + "\n";
    const out = render(find("l.mhc", text, "b".repeat(100)), sourcesOf({ "l.mhc": text }), {}, { maxLineWidth: 40 });
    expect(out).toBe(lines(HEADER, " --> l.mhc:1:11", "  |", `1 | ...${"a".repeat(8)}${"b".repeat(26)}...`, `  | ${" ".repeat(11)}${"^".repeat(27)}`));
  });

  it("prints only the header and the notes for a diagnostic without a span", () => {
    const d = makeDiagnostic(Diag.InputNotFound, undefined, ["x.npy", "no such file"], { notes: ["first note", "a note\nover two lines"], help: "check the path" });
    expect(renderDiagnostic(d, new SourceSet(), { color: false })).toBe(
      lines("error[MHC6001]: cannot read `x.npy`: no such file", "  = note: first note", "  = note: a note", "          over two lines", "  = help: check the path"),
    );
  });

  it("names the file without a frame when its text was never read", () => {
    expect(render(span("gone.mhc", 3, 5), new SourceSet(), { label: "lost" })).toBe(lines(HEADER, " --> gone.mhc"));
  });

  it("uses the severity in the header", () => {
    const text = "constraint sinkhorn(L: [n, n]) -> [n, n] { return L }\n";
    const d = makeDiagnostic(Diag.ShadowsPrelude, find("w.mhc", text, "sinkhorn"), ["sinkhorn"]);
    expect(renderDiagnostic(d, sourcesOf({ "w.mhc": text }), { color: false }).split("\n")[0]).toBe("warning[MHC2020]: `sinkhorn` shadows the prelude's `sinkhorn`");
  });

  it("separates diagnostics with a blank line", () => {
    const text = "abc\n";
    const sources = sourcesOf({ "s.mhc": text });
    const d = makeDiagnostic(Diag.UnknownName, span("s.mhc", 0, 1), ["a"]);
    expect(renderDiagnostics([d, d], sources, { color: false })).toBe(`${renderDiagnostic(d, sources, { color: false })}\n${renderDiagnostic(d, sources, { color: false })}`);
  });

  it("colours the same text when colour is on", () => {
    const text = "let a = b\n";
    const sources = sourcesOf({ "c.mhc": text });
    const at = find("c.mhc", text, "b");
    const extras = { label: "here", secondary: [{ span: find("c.mhc", text, "a"), message: "there" }], help: "fix it" };
    const plain = render(at, sources, extras);
    const coloured = render(at, sources, extras, { color: true });
    expect(coloured).not.toBe(plain);
    expect(coloured).toContain("\u001b[31m"); // the error's red
    expect(coloured.replace(/\u001b\[\d+m/g, "")).toBe(plain);
  });
});
