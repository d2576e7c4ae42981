import type { DiagnosticBag } from "../diagnostics/bag.js";
import type { CheckedConnection, CheckedModel } from "./checked.js";
import { ConnectionChecker } from "./connections.js";
import { ConstraintChecker, type ConstraintSignature } from "./constraints.js";
import { ModelChecker } from "./models.js";
import type { Program } from "./program.js";
import { buildScopes, type FileScope } from "./symbols.js";

export interface CheckedProgram {
  readonly program: Program;
  readonly scopes: ReadonlyMap<string, FileScope>;
  /** Every constraint of every file, by file then name. */
  readonly constraints: ReadonlyMap<string, ReadonlyMap<string, ConstraintSignature>>;
  /** Models of the entry files that checked without errors, by name. */
  readonly models: ReadonlyMap<string, CheckedModel>;
  /** Connections of the entry files instantiated with their defaults, by name. */
  readonly connections: ReadonlyMap<string, CheckedConnection>;
  /** The checkers, for later phases that instantiate connections with other arguments. */
  readonly checkers: { readonly constraints: ConstraintChecker; readonly connections: ConnectionChecker };
}

/**
 * Semantic analysis of a loaded program, in dependency order: scopes, then
 * every constraint (so connections can rely on them), then connections, then
 * models. Each phase runs even after errors in the previous one; errors are
 * reported once, and invalid pieces are left out of the result.
 */
export function checkProgram(program: Program, bag: DiagnosticBag): CheckedProgram {
  const scopes = buildScopes(program, bag);
  const constraintChecker = new ConstraintChecker(bag, scopes);
  const connectionChecker = new ConnectionChecker(bag, constraintChecker, scopes);
  const modelChecker = new ModelChecker(bag, connectionChecker);

  const constraints = new Map<string, Map<string, ConstraintSignature>>();
  for (const file of program.files.values()) {
    const scope = scopes.get(file.absPath)!;
    const own = new Map<string, ConstraintSignature>();
    for (const decl of file.ast.decls) {
      if (decl.kind !== "Constraint" || decl.name.name === "") continue;
      const sig = constraintChecker.signature(decl, scope);
      constraintChecker.checkGeneric(sig);
      own.set(sig.name, sig);
    }
    constraints.set(file.absPath, own);
  }

  for (const file of program.files.values()) {
    const scope = scopes.get(file.absPath)!;
    for (const decl of file.ast.decls) if (decl.kind === "Connection" && decl.name.name !== "") connectionChecker.checkDeclaration(decl, scope);
  }

  const models = new Map<string, CheckedModel>();
  const connections = new Map<string, CheckedConnection>();
  for (const entry of program.entries) {
    const file = program.files.get(entry);
    const scope = file && scopes.get(entry);
    if (!file || !scope) continue;
    for (const decl of file.ast.decls) {
      if (decl.kind === "Model" && decl.name.name !== "") {
        const model = modelChecker.check(decl, scope);
        if (model) models.set(model.name, model);
      }
    }
  }
  for (const file of program.files.values()) {
    const scope = scopes.get(file.absPath)!;
    for (const decl of file.ast.decls) {
      if (decl.kind !== "Connection" || decl.name.name === "") continue;
      if (!connectionChecker.params(decl).every((p) => p.default)) continue;
      const instance = connectionChecker.resolveCall({ kind: "Name", name: decl.name.name, span: decl.name.span }, scope, "checked with its defaults");
      if (instance) connections.set(instance.name, instance);
    }
  }
  return { program, scopes, constraints, models, connections, checkers: { constraints: constraintChecker, connections: connectionChecker } };
}
