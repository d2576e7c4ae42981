import type { Argument, CallExpr, Expr } from "../../../grammar/ast.js";
import { DiagnosticBag } from "../../diagnostics/bag.js";
import type { CheckResult } from "../../driver.js";
import type { CompileValue } from "../../lower/values.js";
import type { CheckedConnection } from "../../sema/checked.js";
import { ConnectionChecker } from "../../sema/connections.js";
import { ConstraintChecker } from "../../sema/constraints.js";
import { CudaCodegenError } from "./emit-constraint.js";

/**
 * A connection of a checked program with explicit arguments (`mhc(n = 8)`), checked
 * exactly like that call written in the file (the same path `mhc run --set` takes).
 * Looks the name up in the scope of the entry file, so prelude connections work too.
 */
export function instantiateConnection(result: CheckResult, name: string, values: ReadonlyMap<string, CompileValue> | Readonly<Record<string, CompileValue>> = new Map()): CheckedConnection {
  const entries = values instanceof Map ? [...values] : Object.entries(values);
  const program = result.checked.program;
  const entry = program.entries[0];
  const scope = entry === undefined ? undefined : result.checked.scopes.get(entry);
  if (!scope) throw new CudaCodegenError("the program has no entry file");
  const target = scope.lookup(name);
  if (target?.kind !== "connection") throw new CudaCodegenError(`no connection \`${name}\` in scope`);
  const at = target.decl.name.span;
  const literal = (v: CompileValue): Expr =>
    typeof v === "boolean" ? { kind: "Bool", value: v, span: at } : { kind: "Number", value: v, text: String(v), isInteger: Number.isInteger(v), span: at };
  const args: Argument[] = entries.map(([k, v]) => ({ kind: "Argument", name: { name: k, span: at }, value: literal(v), span: at }));
  const call: CallExpr = { kind: "Call", callee: { name, span: at }, args, span: at };
  const bag = new DiagnosticBag();
  const connections = new ConnectionChecker(bag, new ConstraintChecker(bag, result.checked.scopes), result.checked.scopes);
  const instance = connections.resolveCall(call, scope, "instantiated for the CUDA target");
  if (!instance || bag.hasErrors()) {
    const messages = bag.diagnostics.map((d) => d.message).join("; ");
    throw new CudaCodegenError(`cannot instantiate \`${name}(${entries.map(([k, v]) => `${k} = ${String(v)}`).join(", ")})\`: ${messages || "it did not check"}`);
  }
  return instance;
}
