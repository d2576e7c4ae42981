import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { explainMarkdown } from "../../compiler/diagnostics/explain.js";
import { allMessages } from "../../compiler/diagnostics/messages.js";
import type { ReadResult } from "../../compiler/source/read-source.js";
import { checkFiles } from "../../compiler/driver.js";

/**
 * The explanations' examples, run through the real checker: the erroneous
 * example must report its code and the fixed one must be clean (no errors, no
 * warnings), so `mhc explain` never shows an example that is wrong.
 *
 * A block that starts with `// NAME.mhc` is that file; other blocks are
 * `x.mhc`. `a.mhc` is checked when present, else `x.mhc`. A few files exist
 * for the import examples to find.
 */

/** Codes the checker does not report yet; their examples are checked for syntax only. */
const notReportedYet = new Set(["MHC2035", "MHC3017"]);

/** Files the import examples (MHC2010, MHC2012, MHC2034) refer to. */
const lib = "constraint half(L: [n, n]) -> [n, n] {\n  return L / 2\n}\n";
const fixtures: Record<string, string | "directory"> = {
  "/w/lib.mhc": lib,
  "/w/lib": "directory",
  "/w/lib/constraints.mhc": lib,
  "/w/lib/my-constraints.mhc": lib,
};

function check(blocks: readonly string[]): string[] {
  const files: Record<string, string | "directory"> = { ...fixtures };
  for (const block of blocks) files[`/w/${/^\/\/ (\S+\.mhc)/.exec(block)?.[1] ?? "x.mhc"}`] = block;
  const entry = "/w/a.mhc" in files ? "/w/a.mhc" : "/w/x.mhc";
  const read = (path: string): ReadResult => {
    const file = files[path];
    if (file === "directory") return { ok: false, reason: "directory", detail: "is a directory" };
    if (file !== undefined) return { ok: true, text: file };
    if (path.startsWith("/w/")) return { ok: false, reason: "not-found", detail: "no such file" };
    return { ok: true, text: readFileSync(path, "utf8") }; // the prelude
  };
  return checkFiles([entry], { cwd: "/w", read, verbose: true }).diagnostics.map((d) => `${d.code} ${d.message}`);
}

function mhcBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```mhc\r?\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const checked = allMessages()
  .map((m) => m.code)
  // 5xxx (targets) and 6xxx (inputs) come from commands, not from `mhc check`; their examples are shell sessions.
  .filter((code) => code >= "MHC2000" && code < "MHC5000");

describe.each(checked)("%s examples through the checker", (code) => {
  const [example = "", fix = ""] = (explainMarkdown(code) ?? "").split(/^## How to fix it$/m);

  it.skipIf(notReportedYet.has(code))("the example reports the code", () => {
    expect(check(mhcBlocks(example)).map((d) => d.slice(0, 7))).toContain(code);
  });

  it("the fixed example is clean", () => {
    const blocks = mhcBlocks(fix);
    expect(blocks.length).toBeGreaterThan(0);
    // MHC2011's fix is two files; any other fix is one file.
    const groups = blocks.some((b) => /^\/\/ \S+\.mhc/.test(b)) ? [blocks] : blocks.map((b) => [b]);
    for (const group of groups) expect(check(group)).toEqual([]);
  });
});
