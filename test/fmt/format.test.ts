import fc from "fast-check";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "../../grammar/index.js";
import { tokenize } from "../../grammar/lexer.js";
import { formatSource } from "../../compiler/fmt/format.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Every `.mhc` file of the project that parses without errors (examples, prelude, fixtures). */
function sourceFiles(): string[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith(".mhc")) found.push(path);
    }
  };
  for (const dir of ["examples", "compiler/std", "test/fixtures", "scripts/gpu"]) visit(join(root, dir));
  return found.filter((f) => parse(readFileSync(f, "utf8"), f).diagnostics.every((d) => d.severity !== "error"));
}

/** The AST without positions: what the file means. */
function shape(text: string): unknown {
  const ast = parse(text, "f.mhc").ast;
  return JSON.parse(JSON.stringify(ast.decls, (key, value: unknown) => (key === "span" || key.endsWith("Span") ? undefined : value)));
}

const commentTexts = (text: string) => parse(text, "f.mhc").ast.comments.map((c) => c.text.trimEnd());

function format(text: string): string {
  const r = formatSource(text, "f.mhc");
  if (!r.ok) throw new Error(`did not format: ${r.diagnostics.map((d) => d.code).join(", ")}`);
  return r.text;
}

describe("mhc fmt on every project file", () => {
  const files = sourceFiles();
  it("finds the examples and the prelude", () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });
  for (const file of files) {
    it(`keeps the meaning and every comment of ${relative(root, file)}, and is idempotent`, () => {
      const text = readFileSync(file, "utf8");
      const once = format(text);
      expect(shape(once)).toEqual(shape(text));
      expect(commentTexts(once)).toEqual(commentTexts(text));
      expect(format(once)).toBe(once);
    });
  }
});

describe("mhc fmt layout", () => {
  it("normalises spacing, indentation, blank lines and redundant parentheses", () => {
    const messy = [
      "constraint   c( L :[ n,n ],iters:int=3 )->[n,n]{",
      "let M=((L*2))+1",
      "",
      "",
      "     repeat iters-1 { M = M/(rowsum(M)+1e-6) }",
      "return (M)  }",
      "connection k(n:int=4){ streams n",
      "pre dynamic sigmoid_eps(eps=1e-6)",
      "res static c(iters=2) init (eye(n)-1)*8 }",
      "model m { vocab 256 dim 64 block { attention(heads=4) mlp(hidden=128,act=gelu) with k(n=2) } }",
    ].join("\n");
    expect(format(messy)).toBe(
      [
        "constraint c(L: [n, n], iters: int = 3) -> [n, n] {",
        "  let M = L * 2 + 1",
        "",
        "  repeat iters - 1 {",
        "    M = M / (rowsum(M) + 1e-6)",
        "  }",
        "  return M",
        "}",
        "",
        "connection k(n: int = 4) {",
        "  streams n",
        "  pre  dynamic sigmoid_eps(eps = 1e-6)",
        "  res  static c(iters = 2) init (eye(n) - 1) * 8",
        "}",
        "",
        "model m {",
        "  vocab 256",
        "  dim 64",
        "  block {",
        "    attention(heads = 4)",
        "    mlp(hidden = 128, act = gelu) with k(n = 2)",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("keeps right-nested operations of one precedence in parentheses", () => {
    const text = "constraint c(L: [n, n]) -> [n, n] {\n  return L - (L - (L @ L).T) / (-L)\n}\n";
    expect(format(text)).toBe("constraint c(L: [n, n]) -> [n, n] {\n  return L - (L - (L @ L).T) / -L\n}\n");
    expect(shape(format(text))).toEqual(shape(text));
  });

  it("aligns end-of-line comments per group and puts own-line comments before their item", () => {
    const text = [
      "// file header",
      "",
      "model m { // the model",
      "  vocab 256 // bytes",
      "  dim 64",
      "  // the context:",
      "  context 128      // tokens",
      "  layers 2 // two",
      "",
      "  /* last */ }",
      "// end",
    ].join("\n");
    expect(format(text)).toBe(
      [
        "// file header",
        "",
        "model m {  // the model",
        "  vocab 256  // bytes",
        "  dim 64",
        "  // the context:",
        "  context 128  // tokens",
        "  layers 2     // two",
        "",
        "  /* last */",
        "}",
        "// end",
        "",
      ].join("\n"),
    );
  });

  it("keeps an item with a comment inside it as written", () => {
    const text = "model m {\n  vocab 256\n  block {\n        mlp(hidden = 128, // wide\n            act = gelu)\n  }\n}\n";
    const out = format(text);
    expect(out).toBe("model m {\n  vocab 256\n  block {\n    mlp(hidden = 128, // wide\n            act = gelu)\n  }\n}\n");
    expect(format(out)).toBe(out);
  });

  it("separates declarations by a blank line but keeps consecutive imports together", () => {
    const text = 'import "./a.mhc"\nimport "./b.mhc"\nconstraint c(L: [n]) -> [n] { return L }\nconstraint d(L: [n]) -> [n] { return L }';
    expect(format(text)).toBe('import "./a.mhc"\nimport "./b.mhc"\n\nconstraint c(L: [n]) -> [n] {\n  return L\n}\n\nconstraint d(L: [n]) -> [n] {\n  return L\n}\n');
  });

  it("does not format a file with syntax errors, and returns its diagnostics", () => {
    const r = formatSource("constraint c(L: [n]) -> [n] {\n  return L +\n}\n", "bad.mhc");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics.some((d) => d.severity === "error" && /^MHC1\d{3}$/.test(d.code))).toBe(true);
  });

  it("formats an empty file to nothing", () => {
    expect(format("")).toBe("");
    expect(format("\n\n")).toBe("");
  });
});

describe("mhc fmt ignores horizontal whitespace", () => {
  // Items with a comment inside are kept as written, spaces included: leave those files out.
  const samples = sourceFiles()
    .map((f) => readFileSync(f, "utf8"))
    .filter((text) => {
      const r = formatSource(text, "f.mhc");
      return r.ok && r.keptAsWritten === 0;
    });
  it("gives the same output when spaces are added between tokens", () => {
    expect(samples.length).toBeGreaterThanOrEqual(12);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: samples.length - 1 }), fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), (which, picks) => {
        const text = samples[which]!;
        const tokens = tokenize(text, "f.mhc").tokens;
        if (tokens.length === 0) return;
        const cuts = [...new Set(picks.map((p) => tokens[p % tokens.length]!.startOffset))].sort((a, b) => b - a);
        let spaced = text;
        for (const at of cuts) spaced = spaced.slice(0, at) + "   " + spaced.slice(at);
        expect(format(spaced)).toBe(format(text));
      }),
      { numRuns: 60 },
    );
  });
});
