import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { explain, explainedCodes, explainMarkdown } from "../../compiler/diagnostics/explain.js";
import { allMessages } from "../../compiler/diagnostics/messages.js";
import { parse } from "../../grammar/index.js";

/**
 * The diagnostic catalogue's invariants: codes are unique, well formed and in
 * the right phase group, and every code has an explanation (and vice versa).
 * The explanations' fixed examples must parse cleanly, and the examples of
 * syntax errors must really produce their code, so the texts cannot rot.
 */
const codes = allMessages().map((m) => m.code);

/** Each `def("MHC....")` of messages.ts with the phase digit of the `// Nxxx` comment above it. */
function codesWithGroups(): { code: string; group: string }[] {
  const source = readFileSync(new URL("../../compiler/diagnostics/messages.ts", import.meta.url), "utf8");
  const out: { code: string; group: string }[] = [];
  let group = "";
  for (const line of source.split("\n")) {
    const heading = /^\s*\/\/\s*(\d)xxx\b/.exec(line);
    if (heading) group = heading[1]!;
    for (const m of line.matchAll(/\bdef\(\s*"(MHC\d{4})"/g)) out.push({ code: m[1]!, group });
  }
  return out;
}

/** 1xxx codes that the file loader reports from what `parse()` returns, not `parse()` itself. */
const reportedByLoader = new Set(["MHC1023"]);

/** The ```mhc blocks of one part of an explanation. */
function mhcBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```mhc\r?\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe("diagnostic catalogue", () => {
  it("explains an empty file with an example that parses to nothing", () => {
    for (const block of mhcBlocks((explainMarkdown("MHC1023") ?? "").split(/^## How to fix it$/m)[0] ?? "")) {
      const { ast, diagnostics } = parse(block, "empty.mhc");
      expect([ast.decls.length, diagnostics.length]).toEqual([0, 0]);
    }
  });

  it("has unique codes of the form MHC + phase digit + three digits", () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^MHC[1-69]\d{3}$/);
  });

  it("puts every code under the group comment of its phase", () => {
    const found = codesWithGroups();
    expect(found.map((f) => f.code).sort()).toEqual([...codes].sort());
    for (const { code, group } of found) expect(`${code} in ${group}xxx`).toBe(`${code} in ${code[3]}xxx`);
  });

  it("has an explanation for every code, and no explanation without a code", () => {
    const explained = explainedCodes();
    expect(codes.filter((c) => !explained.includes(c))).toEqual([]);
    expect(explained.filter((c) => !codes.includes(c))).toEqual([]);
  });

  it("finds every explanation in upper and lower case", () => {
    for (const code of codes) {
      const text = explain(code);
      expect(text, code).toBeDefined();
      expect(explain(code.toLowerCase()), code).toBe(text);
    }
  });

  describe.each(codes)("%s explanation", (code) => {
    const markdown = explainMarkdown(code) ?? "";
    const [example = "", fix = ""] = markdown.split(/^## How to fix it$/m);

    it("has a title line, an example and a fix", () => {
      expect(markdown.split("\n")[0]).toMatch(new RegExp(`^# ${code}: \\S`));
      expect(example).toMatch(/^## Example$/m);
      expect(fix.trim()).not.toBe("");
    });

    it("has fixed examples that parse without diagnostics", () => {
      for (const block of mhcBlocks(fix)) expect(parse(block, `${code}.mhc`).diagnostics.map((d) => d.code)).toEqual([]);
    });

    if (code.startsWith("MHC1") && !reportedByLoader.has(code)) {
      it("has an erroneous example that produces the code (when it is `.mhc` text)", () => {
        for (const block of mhcBlocks(example)) expect(parse(block, `${code}.mhc`).diagnostics.map((d) => d.code)).toContain(code);
      });
    }
  });
});
