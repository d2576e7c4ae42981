import type { ConstraintDecl, Expr } from "../../grammar/ast.js";
import { parse } from "../../grammar/index.js";

/** Parses `let x = <source>` inside a constraint and returns the expression. */
export function parseExpr(source: string): Expr {
  const text = `constraint probe(L: [n, n]) -> [n, n] {\n  let x = ${source}\n  return L\n}\n`;
  const result = parse(text, "probe.mhc");
  if (result.diagnostics.length > 0) throw new Error(`unexpected diagnostics: ${result.diagnostics.map((d) => d.code + " " + d.message).join("; ")}`);
  const decl = result.ast.decls[0] as ConstraintDecl;
  const stmt = decl.body[0]!;
  if (stmt.kind !== "Let") throw new Error("expected a let statement");
  return stmt.value;
}
