import type { ConnectionDecl, ConstraintDecl, ModelDecl } from "../../grammar/ast.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { builtins } from "./builtins.js";
import type { LoadedFile, Program } from "./program.js";

export type Declaration =
  | { readonly kind: "constraint"; readonly decl: ConstraintDecl; readonly file: LoadedFile }
  | { readonly kind: "connection"; readonly decl: ConnectionDecl; readonly file: LoadedFile }
  | { readonly kind: "model"; readonly decl: ModelDecl; readonly file: LoadedFile };

/**
 * The declarations visible in one file: the prelude's, those of the files it
 * imports directly, and its own (which shadow the prelude with a warning).
 * Constraints, connections and models share one namespace.
 */
export class FileScope {
  constructor(
    readonly file: LoadedFile,
    private readonly symbols: ReadonlyMap<string, Declaration>,
  ) {}

  lookup(name: string): Declaration | undefined {
    return this.symbols.get(name);
  }

  names(kind?: Declaration["kind"]): string[] {
    return [...this.symbols.entries()].filter(([, d]) => kind === undefined || d.kind === kind).map(([name]) => name);
  }
}

function declarationsOf(file: LoadedFile): Declaration[] {
  const out: Declaration[] = [];
  for (const decl of file.ast.decls) {
    if (decl.kind === "Constraint") out.push({ kind: "constraint", decl, file });
    else if (decl.kind === "Connection") out.push({ kind: "connection", decl, file });
    else if (decl.kind === "Model") out.push({ kind: "model", decl, file });
  }
  return out.filter((d) => d.decl.name.name !== "");
}

export function buildScopes(program: Program, bag: DiagnosticBag): Map<string, FileScope> {
  const scopes = new Map<string, FileScope>();
  const preludeSymbols = new Map<string, Declaration>();
  if (program.prelude) for (const d of declarationsOf(program.prelude)) preludeSymbols.set(d.decl.name.name, d);

  for (const file of program.files.values()) {
    const symbols = new Map<string, Declaration>(file.isPrelude ? [] : preludeSymbols);
    const origin = new Map<string, "prelude" | "import" | "own">(file.isPrelude ? [] : [...preludeSymbols.keys()].map((k) => [k, "prelude"] as const));

    for (const imp of file.imports) {
      const target = imp.target ? program.files.get(imp.target) : undefined;
      if (!target) continue;
      for (const d of declarationsOf(target)) {
        const name = d.decl.name.name;
        const previous = symbols.get(name);
        if (previous && origin.get(name) === "import" && previous.decl !== d.decl) {
          bag.report(Diag.DuplicateDeclaration, imp.decl.span, [name], {
            label: `this import brings a second \`${name}\``,
            secondary: [{ span: previous.decl.name.span, message: "first declared here" }, { span: d.decl.name.span, message: "and here" }],
          });
          continue;
        }
        symbols.set(name, d);
        origin.set(name, "import");
      }
    }

    const own = new Map<string, Declaration>();
    for (const d of declarationsOf(file)) {
      const name = d.decl.name.name;
      const where = d.decl.name.span;
      const sameFile = own.get(name);
      if (sameFile) {
        bag.report(Diag.DuplicateDeclaration, where, [name], { label: "declared again here", secondary: [{ span: sameFile.decl.name.span, message: "first declared here" }] });
        continue;
      }
      if (d.kind === "constraint" && builtins.has(name)) {
        bag.report(Diag.ShadowsBuiltin, where, [name], { label: "builtin name", help: `rename it, for example \`my_${name}\`` });
        continue;
      }
      const previous = symbols.get(name);
      if (previous && origin.get(name) === "import") {
        bag.report(Diag.DuplicateDeclaration, where, [name], { label: "declared again here", secondary: [{ span: previous.decl.name.span, message: "also declared in an imported file" }] });
      } else if (previous && origin.get(name) === "prelude") {
        bag.report(Diag.ShadowsPrelude, where, [name], { label: "this declaration is used instead", help: "rename it to keep both" });
      }
      own.set(name, d);
      symbols.set(name, d);
      origin.set(name, "own");
    }
    scopes.set(file.absPath, new FileScope(file, symbols));
  }
  return scopes;
}
