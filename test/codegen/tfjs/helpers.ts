import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import type { CallExpr, Expr } from "../../../grammar/ast.js";
import { generateConnectionModule } from "../../../compiler/codegen/tfjs/index.js";
import type { ConnectionInfo } from "../../../compiler/codegen/tfjs/connection-info.js";
import { DiagnosticBag } from "../../../compiler/diagnostics/bag.js";
import { checkFiles, type CheckResult } from "../../../compiler/driver.js";
import type { CheckedConnection } from "../../../compiler/sema/checked.js";
import { ConnectionChecker } from "../../../compiler/sema/connections.js";
import { ConstraintChecker } from "../../../compiler/sema/constraints.js";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const COMPILER_VERSION = "0.0.0-test";

/** The examples file whose imports and connections the tests compile (prelude included). */
export function checkExample(file = "examples/my-constraint.mhc"): CheckResult {
  const result = checkFiles([file], { cwd: ROOT });
  if (result.errorCount > 0) throw new Error(`${file} does not check`);
  return result;
}

/**
 * A connection instantiated with arguments, as the user would write `mhc(n = 3)`:
 * the checker's own call path, so the instance is exactly what sema produces.
 */
export function instantiate(result: CheckResult, name: string, args: Readonly<Record<string, number>> = {}): CheckedConnection {
  if (Object.keys(args).length === 0) {
    const conn = result.checked.connections.get(name);
    if (!conn) throw new Error(`no connection ${name}`);
    return conn;
  }
  const entry = result.checked.program.entries[0]!;
  const scope = result.checked.scopes.get(entry)!;
  const target = scope.lookup(name);
  if (target?.kind !== "connection") throw new Error(`no connection ${name}`);
  const at = target.decl.name.span;
  const literal = (v: number): Expr => ({ kind: "Number", value: v, text: String(v), isInteger: Number.isInteger(v), span: at });
  const call: CallExpr = {
    kind: "Call",
    callee: { name, span: at },
    args: Object.entries(args).map(([k, v]) => ({ kind: "Argument", name: { name: k, span: at }, value: literal(v), span: at })),
    span: at,
  };
  const bag = new DiagnosticBag();
  const connections = new ConnectionChecker(bag, new ConstraintChecker(bag, result.checked.scopes), result.checked.scopes);
  const conn = connections.resolveCall(call, scope, "a test");
  if (!conn || bag.hasErrors()) throw new Error(`${name}(${JSON.stringify(args)}) does not check`);
  return conn;
}

/** What a loaded generated module exports (the tests use it untyped: it is generated). */
export interface LoadedModule {
  readonly n: number;
  readonly parameterSpecs: readonly { name: string; shape: readonly (number | string)[] }[];
  parameterShapes(C: number): Record<string, number[]>;
  initParameters(C: number, seed?: number): Record<string, import("@tensorflow/tfjs-core").Tensor>;
  sublayer(params: unknown, x: unknown, f: unknown): Record<string, import("@tensorflow/tfjs-core").Tensor>;
  pre(params: unknown, x: unknown): Record<string, import("@tensorflow/tfjs-core").Tensor>;
  post(params: unknown, x: unknown, f: unknown, state: unknown): import("@tensorflow/tfjs-core").Tensor;
}

/**
 * A scratch directory inside the repository (under the git-ignored `tmp/`), so that the
 * generated modules resolve `@tensorflow/tfjs-core` from the project's node_modules,
 * the same instance the tests use.
 */
export function scratchDir(prefix: string): { dir: string; remove: () => void } {
  const base = join(ROOT, "tmp");
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Generates a connection's TypeScript module, writes it to `dir`, strips the types with
 * esbuild (what a plain-JavaScript consumer would do) and imports the JavaScript.
 */
export async function loadConnection(result: CheckResult, conn: CheckedConnection, dir: string, tag = conn.name): Promise<{ module: LoadedModule; text: string; info: ConnectionInfo }> {
  const { file, info } = await generateConnectionModule(result, conn, { compilerVersion: COMPILER_VERSION });
  writeFileSync(join(dir, `${tag}.ts`), file.text);
  const js = await transform(file.text, { loader: "ts", format: "esm", target: "es2022" });
  const path = join(dir, `${tag}.mjs`);
  writeFileSync(path, js.code);
  const module = (await import(pathToFileURL(path).href)) as LoadedModule;
  return { module, text: file.text, info };
}
