import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AstNode, ConnectionDecl, ConstraintDecl, FileAst, ModelDecl } from "../../grammar/ast.js";
import { parse } from "../../grammar/index.js";
import { printExpr } from "../../grammar/print-expr.js";
import { cstDeclarations } from "../../scripts/cst-dts.js";

const ok = (text: string): FileAst => {
  const result = parse(text, "t.mhc");
  expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return result.ast;
};
const codesAt = (text: string) => parse(text, "t.mhc").diagnostics.map((d) => `${d.code}@${text.slice(0, d.span!.start).split("\n").length}`);

describe("declarations", () => {
  it("parses a constraint with typed parameters, defaults and every statement", () => {
    const ast = ok(`
      constraint sinkhorn(L: [n, n], iters: int = 20, eps: float = 1e-6, flag: bool = true) -> [n, n] {
        let M = softmax_cols(L) + eps
        M = M / (rowsum(M) + eps)
        repeat iters - 1 {
          M = M / (colsum(M) + eps)
        }
        return M
      }`);
    const c = ast.decls[0] as ConstraintDecl;
    expect(c.kind).toBe("Constraint");
    expect(c.params.map((p) => `${p.name.name}:${p.type.kind === "NamedType" ? p.type.name.name : "shape"}${p.default ? "=" + printExpr(p.default) : ""}`)).toEqual([
      "L:shape", "iters:int=20", "eps:float=1e-6", "flag:bool=true",
    ]);
    expect(c.body.map((s) => s.kind)).toEqual(["Let", "Assign", "Repeat", "Return"]);
    const rep = c.body[2]!;
    expect(rep.kind === "Repeat" && printExpr(rep.count)).toBe("iters - 1");
    expect(c.result.kind).toBe("ShapeType");
  });

  it("parses shape-polymorphic and factorial-shaped parameters", () => {
    const ast = ok("constraint a(L: tensor) -> tensor { return L }\nconstraint b(w: [fact(n)]) -> [n, n] { return combine(softmax(w), perms(n)) }");
    const [a, b] = ast.decls as ConstraintDecl[];
    expect(a!.params[0]!.type.kind).toBe("NamedType");
    const t = b!.params[0]!.type;
    expect(t.kind === "ShapeType" && t.dims.map((d) => printExpr(d))).toEqual(["fact(n)"]);
  });

  it("parses imports with escapes", () => {
    const ast = ok('import "./lib/a.mhc"\nimport "b\\"q.mhc"');
    expect(ast.decls.map((d) => d.kind === "Import" && d.path)).toEqual(["./lib/a.mhc", 'b"q.mhc']);
  });

  it("parses every connection field form", () => {
    const ast = ok(`
      connection mhc(n: int = 4, iters: int = 20) {
        streams n
        norm rms(eps = 1e-6)
        alpha 0.01
        projection per_stream
        pre  dynamic sigmoid_eps(eps = 1e-6)
        post dynamic tanh unconstrained() init ones([n])
        res  static sinkhorn(iters = iters) init (eye(n) - 1) * 8
      }
      connection bare { streams 1 pre static fixed_ones post fixed_ones res identity() }`);
    const c = ast.decls[0] as ConnectionDecl;
    const fields = c.fields.flatMap((f) => (f.kind === "Field" ? [`${f.name.name}|${f.mode?.value ?? ""}|${printExpr(f.value)}|${f.init ? printExpr(f.init) : ""}`] : []));
    expect(fields).toEqual([
      "streams||n|",
      "norm||rms(eps = 1e-6)|",
      "alpha||0.01|",
      "projection||per_stream|",
      "pre|dynamic|sigmoid_eps(eps = 1e-6)|",
      "post|dynamic tanh|unconstrained()|ones([n])",
      "res|static|sinkhorn(iters = iters)|(eye(n) - 1) * 8",
    ]);
    expect((ast.decls[1] as ConnectionDecl).params).toEqual([]);
  });

  it("treats `tanh` after `dynamic` as a modifier only when a name follows", () => {
    const ast = ok("connection c { pre dynamic tanh_gate() post dynamic tanh tanh_gate() res dynamic tanh(x) }");
    const modes = (ast.decls[0] as ConnectionDecl).fields.map((f) => (f.kind === "Field" ? `${f.mode?.value}:${printExpr(f.value)}` : ""));
    expect(modes).toEqual(["dynamic:tanh_gate()", "dynamic tanh:tanh_gate()", "dynamic:tanh(x)"]);
  });

  it("parses models with `block`, `with`, the `connection` field and `expand repeat`", () => {
    const ast = ok(`
      model tiny {
        vocab 256
        dim 128
        connection mhc(n = 4)
        expand repeat
        collapse gated
        tie_embeddings true
        block {
          attention(heads = 4)
          mlp(hidden = 512, act = gelu) with hc(n = 4)
          identity()
        }
      }`);
    const m = ast.decls[0] as ModelDecl;
    const block = m.fields.find((f) => f.kind === "Block");
    expect(block?.kind === "Block" && block.sublayers.map((s) => `${printExpr(s.call)}${s.connection ? " with " + printExpr(s.connection) : ""}`)).toEqual([
      "attention(heads = 4)",
      "mlp(hidden = 512, act = gelu) with hc(n = 4)",
      "identity()",
    ]);
    const names = m.fields.flatMap((f) => (f.kind === "Field" ? [f.name.name] : []));
    expect(names).toEqual(["vocab", "dim", "connection", "expand", "collapse", "tie_embeddings"]);
  });
});

describe("spans", () => {
  it("cover exactly the source text of each node", () => {
    const text = "constraint c(L: [n, n]) -> [n, n] {\n  let M = -L.T @ (L + 1) * 2\n  return M\n}";
    const ast = ok(text);
    const stmt = (ast.decls[0] as ConstraintDecl).body[0]!;
    const slice = (n: AstNode & { span: { start: number; end: number } }) => text.slice(n.span.start, n.span.end);
    expect(slice(stmt)).toBe("let M = -L.T @ (L + 1) * 2");
    if (stmt.kind !== "Let" || stmt.value.kind !== "Binary") throw new Error("unexpected shape");
    expect(slice(stmt.value)).toBe("-L.T @ (L + 1) * 2");
    expect(slice(stmt.value.left)).toBe("-L.T @ (L + 1)");
    expect(text.slice(stmt.value.opSpan.start, stmt.value.opSpan.end)).toBe("*");
  });
});

describe("error recovery", () => {
  it("reports one error per broken declaration and keeps the others", () => {
    const text = [
      "constraint a(L: [n]) -> [n] { return L + }",
      "constraint b(L: [n]) -> [n] { return L }",
      "connection c { streams 4 pre dynamic sigmoid_eps( }",
      "model m { vocab 10 }",
    ].join("\n");
    const result = parse(text, "t.mhc");
    expect(result.diagnostics.map((d) => d.code)).toEqual(["MHC1011", "MHC1010"]);
    expect(result.ast.decls.map((d) => (d.kind === "Import" ? "import" : d.name.name))).toEqual(["a", "b", "c", "m"]);
  });

  it("does not let a missing `}` swallow the next declarations", () => {
    const text = "constraint a(L: [n]) -> [n] {\n  return L\n\nconstraint b(L: [n]) -> [n] { return L }\nmodel m { vocab 1 }";
    const result = parse(text, "t.mhc");
    expect(codesAt(text)).toEqual(["MHC1010@2"]);
    expect(result.ast.decls.map((d) => (d.kind === "Import" ? "" : d.name.name))).toEqual(["a", "b", "m"]);
  });

  it("suggests the keyword for a misspelt declaration", () => {
    const result = parse("constrant a(L: [n]) -> [n] { return L }", "t.mhc");
    expect(result.diagnostics.map((d) => [d.code, d.help])).toEqual([["MHC1013", "did you mean `constraint`?"]]);
  });

  it("names a reserved keyword used as a name", () => {
    expect(codesAt("constraint c(L: [n]) -> [n] {\n  let repeat = L\n  return L\n}")).toEqual(["MHC1014@2"]);
  });

  it("reports text after a complete declaration", () => {
    expect(codesAt("model m { vocab 1 } }")).toEqual(["MHC1012@1"]);
  });

  it("never throws on an empty or whitespace-only file", () => {
    for (const text of ["", "   \n\t\n", "// only a comment"]) expect(parse(text, "t.mhc").ast.decls).toEqual([]);
  });
});

describe("the shipped sources", () => {
  const files = [
    ...readdirSync("examples").filter((f) => f.endsWith(".mhc")).map((f) => join("examples", f)),
    ...readdirSync("test/fixtures/valid").filter((f) => f.endsWith(".mhc")).map((f) => join("test/fixtures/valid", f)),
    "compiler/std/std.mhc",
  ];
  it.each(files)("%s parses without diagnostics", (file) => {
    expect(parse(readFileSync(file, "utf8"), file).diagnostics).toEqual([]);
  });
});

describe("grammar/cst.generated.d.ts", () => {
  it("matches the grammar (run `npm run gen:cst` after changing the parser)", () => {
    expect(readFileSync("grammar/cst.generated.d.ts", "utf8")).toBe(cstDeclarations());
  });
});
