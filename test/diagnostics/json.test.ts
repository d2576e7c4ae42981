import { describe, expect, it } from "vitest";
import { makeDiagnostic } from "../../compiler/diagnostics/diagnostic.js";
import { formatJson, toJsonDiagnostic } from "../../compiler/diagnostics/json.js";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { SourceSet } from "../../compiler/source/source-set.js";
import { span } from "../../compiler/source/span.js";
import { parse } from "../../grammar/index.js";

function sourcesOf(files: Record<string, string>): SourceSet {
  const sources = new SourceSet();
  for (const [path, text] of Object.entries(files)) sources.add(path, text);
  return sources;
}

const PINNED_KEYS = ["code", "severity", "message", "file", "line", "column", "endLine", "endColumn", "notes"];

describe("--format json", () => {
  it("prints one array with the pinned keys first and 1-based, end-exclusive positions", () => {
    const text = "constrant f(L: [n]) -> [n] { return L }\n";
    const sources = sourcesOf({ "bad.mhc": text });
    const out = formatJson(parse(text, "bad.mhc").diagnostics, sources);
    const parsed: unknown = JSON.parse(out);
    expect(Array.isArray(parsed)).toBe(true);
    const [first] = parsed as Record<string, unknown>[];
    expect(Object.keys(first!).slice(0, PINNED_KEYS.length)).toEqual(PINNED_KEYS);
    expect(first).toEqual({
      code: "MHC1013",
      severity: "error",
      message: "unknown declaration keyword `constrant`",
      file: "bad.mhc",
      line: 1,
      column: 1,
      endLine: 1,
      endColumn: 10, // `constrant` covers columns 1..9; the end is the column after it
      notes: ["help: did you mean `constraint`?"],
      label: "not a declaration keyword",
      help: "did you mean `constraint`?",
    });
  });

  it("positions a diagnostic on a later line", () => {
    const text = "constraint f(L: [n, n]) -> [n, n] {\n  let M = L $ 2\n  return M\n}\n";
    const [json] = parse(text, "a.mhc").diagnostics.map((d) => toJsonDiagnostic(d, sourcesOf({ "a.mhc": text })));
    expect(json).toMatchObject({ code: "MHC1001", line: 2, column: 13, endLine: 2, endColumn: 14 });
  });

  it("counts columns the same way in CRLF files", () => {
    const text = "abc\r\nlet x\r\n";
    const d = makeDiagnostic(Diag.UnknownName, span("c.mhc", text.indexOf("x"), text.indexOf("x") + 1), ["x"]);
    expect(toJsonDiagnostic(d, sourcesOf({ "c.mhc": text }))).toMatchObject({ line: 2, column: 5, endLine: 2, endColumn: 6 });
  });

  it("gives an empty span endColumn === column, and a span over a line break an end on the next line", () => {
    const text = "ab\ncd\n";
    const sources = sourcesOf({ "e.mhc": text });
    const empty = makeDiagnostic(Diag.UnknownName, span("e.mhc", 1, 1), ["x"]);
    expect(toJsonDiagnostic(empty, sources)).toMatchObject({ line: 1, column: 2, endLine: 1, endColumn: 2 });
    const multi = makeDiagnostic(Diag.UnknownName, span("e.mhc", 1, 5), ["x"]);
    expect(toJsonDiagnostic(multi, sources)).toMatchObject({ line: 1, column: 2, endLine: 2, endColumn: 3 });
    const eof = makeDiagnostic(Diag.UnknownName, span("e.mhc", 6, 6), ["x"]);
    expect(toJsonDiagnostic(eof, sources)).toMatchObject({ line: 3, column: 1, endLine: 3, endColumn: 1 });
  });

  it("uses null positions for a diagnostic without a span, or whose file was never read", () => {
    const none = makeDiagnostic(Diag.InputNotFound, undefined, ["w.safetensors", "no such file"], { notes: ["n1"] });
    expect(toJsonDiagnostic(none, new SourceSet())).toEqual({
      code: "MHC6001",
      severity: "error",
      message: "cannot read `w.safetensors`: no such file",
      file: null,
      line: null,
      column: null,
      endLine: null,
      endColumn: null,
      notes: ["n1"],
    });
    const unread = makeDiagnostic(Diag.UnknownName, span("gone.mhc", 2, 3), ["x"]);
    expect(toJsonDiagnostic(unread, new SourceSet())).toMatchObject({ file: "gone.mhc", line: null, column: null, endLine: null, endColumn: null });
  });

  it("puts notes before the help, and lists secondary locations", () => {
    const text = "let a = 1\nlet a = 2\n";
    const sources = sourcesOf({ "d.mhc": text });
    const d = makeDiagnostic(Diag.DuplicateVariable, span("d.mhc", 14, 15), ["a"], {
      label: "defined again",
      secondary: [{ span: span("d.mhc", 4, 5), message: "first defined here" }],
      notes: ["variables are defined once"],
      help: "assign without `let`",
    });
    const json = toJsonDiagnostic(d, sources);
    expect(json.notes).toEqual(["variables are defined once", "help: assign without `let`"]);
    expect(json.secondary).toEqual([{ message: "first defined here", file: "d.mhc", line: 1, column: 5, endLine: 1, endColumn: 6 }]);
  });

  it("omits label, help and secondary when absent", () => {
    const d = makeDiagnostic(Diag.UnknownName, span("f.mhc", 0, 1), ["x"]);
    expect(Object.keys(toJsonDiagnostic(d, sourcesOf({ "f.mhc": "x\n" })))).toEqual(PINNED_KEYS);
  });

  it("prints an empty array for no diagnostics, and one object per line otherwise", () => {
    expect(formatJson([], new SourceSet())).toBe("[]\n");
    const sources = sourcesOf({ "f.mhc": "x y\n" });
    const ds = [makeDiagnostic(Diag.UnknownName, span("f.mhc", 0, 1), ["x"]), makeDiagnostic(Diag.UnknownName, span("f.mhc", 2, 3), ["y"])];
    const out = formatJson(ds, sources);
    expect(out.split("\n")).toHaveLength(5); // [, object, object, ], and the final newline
    expect((JSON.parse(out) as unknown[]).length).toBe(2);
  });
});
