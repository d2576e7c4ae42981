import { describe, expect, it } from "vitest";
import { checkSource, codes } from "../helpers/check-source.js";

const model = (fields: string) => `model m {\n${fields}\n}\n`;
const base = "  vocab 256\n  dim 128\n  context 64\n  layers 2\n  connection mhc(n = 4)";

describe("models", () => {
  it("fills documented defaults and resolves sublayers", () => {
    const result = checkSource(model(`${base}\n  block {\n    attention(heads = 4)\n    mlp(hidden = 512, act = swiglu) with hc(n = 4)\n  }`));
    expect(codes(result)).toEqual([]);
    const m = result.checked.models.get("m")!;
    expect([m.vocab, m.dim, m.context, m.layers, m.expand, m.collapse, m.normEps, m.tieEmbeddings, m.dropout]).toEqual([256, 128, 64, 2, "repeat", "gated", 1e-6, false, 0]);
    expect(m.block.map((s) => [s.kind, s.args, s.connection.name])).toEqual([
      ["attention", { heads: 4, kv_heads: 4, causal: true }, "mhc"],
      ["mlp", { hidden: 512, act: "swiglu" }, "hc"],
    ]);
  });

  it("reports missing required fields and an empty block", () => {
    expect(codes(checkSource(model("  vocab 256\n  block { identity() }")))).toEqual(["MHC4003@1:7"]);
    expect(codes(checkSource(model(`${base}\n  block { }`)))).toEqual(["MHC4008@7:3"]);
    expect(codes(checkSource(model(base)))).toEqual(["MHC4013@1:7"]);
  });

  it("checks head counts against the width", () => {
    expect(codes(checkSource(model(`${base}\n  block { attention(heads = 3) }`)))).toEqual(["MHC4004@7:29"]);
    expect(codes(checkSource(model(`${base}\n  block { attention(heads = 4, kv_heads = 3) }`)))).toEqual(["MHC4009@7:43"]);
  });

  it("checks sublayer names, arguments and enumerations", () => {
    expect(codes(checkSource(model(`${base}\n  block { atention(heads = 4) }`)))).toEqual(["MHC2030@7:11"]);
    expect(codes(checkSource(model(`${base}\n  block { mlp(hiden = 4) }`)))).toEqual(["MHC2023@7:15"]);
    expect(codes(checkSource(model(`${base}\n  block { mlp(hidden = 64, act = gleu) }`)))).toEqual(["MHC4005@7:34"]);
    expect(codes(checkSource(model(`${base}\n  collapse max\n  block { identity() }`)))).toEqual(["MHC4005@7:12"]);
  });

  it("checks the connection a model uses", () => {
    expect(codes(checkSource(model(`  vocab 256\n  dim 128\n  context 64\n  layers 2\n  connection mch(n = 4)\n  block { identity() }`)))).toEqual(["MHC2021@6:14"]);
    expect(codes(checkSource(model(`  vocab 256\n  dim 128\n  context 64\n  layers 2\n  connection sinkhorn()\n  block { identity() }`)))).toEqual(["MHC2032@6:14"]);
    const zero = checkSource(model(`  vocab 256\n  dim 128\n  context 64\n  layers 2\n  connection mhc(n = 0)\n  block { identity() }`));
    expect(zero.diagnostics.map((d) => [d.code, d.span?.file, d.secondary[0]?.span.file])).toEqual([["MHC4002", "main.mhc", "<std>/std.mhc"]]);
  });

  it("checks numeric ranges", () => {
    expect(codes(checkSource(model(`${base.replace("layers 2", "layers 0")}\n  block { identity() }`)))).toEqual(["MHC4006@5:10"]);
    expect(codes(checkSource(model(`${base}\n  dropout 1.5\n  block { identity() }`)))).toEqual(["MHC4006@7:11"]);
    expect(codes(checkSource(model(`${base.replace("dim 128", "dim 12.5")}\n  block { identity() }`)))).toEqual(["MHC4012@3:7"]);
  });
});

describe("imports", () => {
  it("brings in the declarations of the imported file, relative to the importer", () => {
    const result = checkSource('import "./lib/c.mhc"\nconnection k { streams 2 pre sigmoid_eps() post scaled_sigmoid() res mine() }', {
      "lib/c.mhc": "constraint mine(L: [n, n]) -> [n, n] { return softmax_rows(L) }",
    });
    expect(codes(result)).toEqual([]);
  });

  it("reports a missing file with a suggestion, and cycles once", () => {
    expect(codes(checkSource('import "./lib/cc.mhc"', { "lib/c.mhc": "" }))).toEqual(["MHC2010@1:8"]);
    const cycle = checkSource('import "./a.mhc"', { "a.mhc": 'import "./b.mhc"', "b.mhc": 'import "./a.mhc"' });
    expect(codes(cycle)).toEqual(["MHC2011@1:8"]);
  });

  it("reports the same name brought in twice", () => {
    const result = checkSource('import "./a.mhc"\nimport "./b.mhc"', {
      "a.mhc": "constraint f(L: tensor) -> tensor { return L }",
      "b.mhc": "constraint f(L: tensor) -> tensor { return L }",
    });
    expect(codes(result)).toEqual(["MHC2003@2:1"]);
  });
});
