import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { explain, explainDirectory, explainMarkdown, renderMarkdown } from "../../compiler/diagnostics/explain.js";
import { findPackageRoot, packageRoot } from "../../compiler/package-root.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url)).replace(/[\\/]$/, "");

describe("packageRoot", () => {
  it("finds the repository root from the sources", () => {
    expect(packageRoot()).toBe(repoRoot);
  });

  it("finds the same root from where the built modules live under dist/", () => {
    expect(findPackageRoot(join(repoRoot, "dist", "compiler", "package-root.js"))).toBe(repoRoot);
    expect(findPackageRoot(new URL("../../dist/compiler/diagnostics/explain.js", import.meta.url).href)).toBe(repoRoot);
    // The bundled CLI (scripts/bundle-cli.mjs) is one module directly under dist/.
    expect(findPackageRoot(new URL("../../dist/mhc.cjs", import.meta.url).href)).toBe(repoRoot);
  });

  const scratch = mkdtempSync(join(tmpdir(), "mhc-root-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("skips package.json files of other packages on the way up", () => {
    mkdirSync(join(scratch, "node_modules", "mhc-lang", "dist", "compiler"), { recursive: true });
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "someone-elses-project" }));
    writeFileSync(join(scratch, "node_modules", "mhc-lang", "package.json"), JSON.stringify({ name: "mhc-lang" }));
    writeFileSync(join(scratch, "node_modules", "mhc-lang", "dist", "package.json"), JSON.stringify({ type: "module" }));
    const from = join(scratch, "node_modules", "mhc-lang", "dist", "compiler", "package-root.js");
    expect(findPackageRoot(from)).toBe(join(scratch, "node_modules", "mhc-lang"));
  });

  it("says so when there is no mhc-lang package above", () => {
    expect(() => findPackageRoot(join(scratch, "x.js"))).toThrow(/cannot find the mhc-lang package root/);
  });
});

describe("explain", () => {
  it("reads the explanation of a code in either case", () => {
    const upper = explain("MHC3002");
    expect(upper).toMatch(/^# MHC3002: /);
    expect(explain("mhc3002")).toBe(upper);
    expect(explain(" Mhc3002 ")).toBe(upper);
    expect(explainDirectory()).toBe(join(repoRoot, "compiler", "diagnostics", "explain"));
  });

  it("returns undefined for unknown codes and for anything that is not a code", () => {
    expect(explain("MHC0000")).toBeUndefined();
    expect(explain("E0308")).toBeUndefined();
    expect(explain("../../package")).toBeUndefined();
    expect(explainMarkdown("MHC3002/../MHC3002")).toBeUndefined();
  });

  it("returns the markdown as written without colour, and renders it lightly with colour", () => {
    const markdown = explainMarkdown("MHC1013")!;
    expect(explain("MHC1013")).toBe(markdown);
    const coloured = explain("MHC1013", { color: true })!;
    const text = coloured.replace(/\u001b\[\d+m/g, "");
    expect(text.split("\n")[0]).toBe("MHC1013: unknown declaration keyword");
    expect(coloured.split("\n")[0]).toBe("\u001b[1mMHC1013: unknown declaration keyword\u001b[22m");
    expect(text).not.toContain("```");
    expect(text).toContain("\n    constrant half(L: [n, n]) -> [n, n] {\n");
  });

  it("renders headings, code blocks and plain lines", () => {
    const md = "# Title\r\n\r\ntext `code`\n\n```mhc\nlet a = 1\n\nreturn a\n```\n## Fix\n";
    expect(renderMarkdown(md).replace(/\u001b\[\d+m/g, "")).toBe("Title\n\ntext `code`\n\n    let a = 1\n\n    return a\nFix\n");
  });
});
