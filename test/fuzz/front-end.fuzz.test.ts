import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "../../grammar/index.js";
import { checkSource } from "../helpers/check-source.js";

/*
 * The front end must be total: whatever the input, it returns diagnostics,
 * never throws, and every diagnostic is coded and points inside its file.
 * fast-check shrinks any failure to a minimal input and prints a seed to replay.
 */

const CODE = /^MHC[1-6]\d{3}$/;

function assertWellFormed(text: string): void {
  const result = checkSource(text);
  for (const d of result.diagnostics) {
    expect(d.code).toMatch(CODE);
    expect(d.message.length).toBeGreaterThan(0);
    if (d.span) {
      const file = result.sources.get(d.span.file);
      expect(file, `diagnostic in unknown file ${d.span.file}`).toBeDefined();
      expect(d.span.start).toBeGreaterThanOrEqual(0);
      expect(d.span.end).toBeGreaterThanOrEqual(d.span.start);
      expect(d.span.end).toBeLessThanOrEqual(file!.text.length);
    }
  }
}

const vocabulary = [
  "import", "constraint", "connection", "model", "block", "let", "repeat", "return", "with", "static", "dynamic", "init", "true", "false", "tanh",
  "L", "M", "n", "x", "iters", "eps", "streams", "pre", "post", "res", "norm", "alpha", "projection", "vocab", "dim", "layers", "context",
  "sinkhorn", "softmax_cols", "rowsum", "colsum", "eye", "ones", "perms", "combine", "fact", "attention", "mlp", "identity", "mhc", "hc", "gelu",
  "0", "1", "20", "1e-6", "2.", "0.01", '"./x.mhc"', "int", "float", "tensor", "[n, n]",
  "(", ")", "[", "]", "{", "}", ",", ":", "=", "->", "+", "-", "*", "/", "@", ".T", "//c\n", "/* c */", "\n", "$", "\u0000", "\"",
];

const examples = readdirSync("examples")
  .filter((f) => f.endsWith(".mhc"))
  .map((f) => readFileSync(join("examples", f), "utf8"));

describe("the front end never crashes", () => {
  it("on arbitrary unicode text", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (text) => assertWellFormed(text)), { numRuns: 150, seed: 1 });
  });

  it("on random token streams", () => {
    const tokens = fc.array(fc.constantFrom(...vocabulary), { maxLength: 80 }).map((t) => t.join(" "));
    fc.assert(fc.property(tokens, (text) => assertWellFormed(text)), { numRuns: 300, seed: 2 });
  });

  it("on mutated examples", () => {
    const mutation = fc.record({
      example: fc.integer({ min: 0, max: examples.length - 1 }),
      at: fc.nat(),
      length: fc.integer({ min: 0, max: 40 }),
      insert: fc.array(fc.constantFrom(...vocabulary), { maxLength: 4 }).map((t) => t.join(" ")),
    });
    fc.assert(
      fc.property(mutation, ({ example, at, length, insert }) => {
        const source = examples[example]!;
        const start = at % (source.length + 1);
        assertWellFormed(source.slice(0, start) + insert + source.slice(start + length));
      }),
      { numRuns: 200, seed: 3 },
    );
  });

  it("on deeply nested expressions without exhausting the stack", () => {
    const depth = 2000;
    const text = `constraint c(L: [n, n]) -> [n, n] { return ${"(".repeat(depth)}L${")".repeat(depth)} }`;
    expect(parse(text, "deep.mhc").diagnostics.map((d) => d.code)).toEqual(["MHC1024"]);
    const minus = `constraint c(L: [n, n]) -> [n, n] { return ${"-".repeat(depth)}L }`;
    expect(parse(minus, "deep.mhc").diagnostics.map((d) => d.code)).toEqual(["MHC1024"]);
  });

  it("accepts nesting up to the limit", () => {
    const text = `constraint c(L: [n, n]) -> [n, n] { return ${"(".repeat(60)}L${")".repeat(60)} }`;
    expect(checkSource(text).diagnostics).toEqual([]);
  });
});
