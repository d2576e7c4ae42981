import { resolve } from "node:path";
import { CudaCodegenError, instantiateConnection } from "../../../codegen/cuda/index.js";
import { selectConnections } from "../../../codegen/tfjs/index.js";
import { makeDiagnostic, type Diagnostic } from "../../../diagnostics/diagnostic.js";
import { Diag } from "../../../diagnostics/messages.js";
import { didYouMean } from "../../../diagnostics/suggest.js";
import type { CheckResult } from "../../../driver.js";
import type { CompileValue } from "../../../lower/values.js";
import type { CheckedConnection } from "../../../sema/checked.js";

export interface ConnectionChoice {
  /** `--connection NAME`: one connection of the file or the prelude; default: every connection the file declares. */
  readonly connection?: string;
  /** `--n N`: the stream count, for connections that take it as a parameter. */
  readonly n?: number;
  /** Explicit arguments (from a library's manifest), instead of `--n`. */
  readonly args?: Readonly<Record<string, CompileValue>>;
}

/**
 * The connections a GPU command runs, checked with the arguments asked for,
 * exactly as `mhc compile --target cuda` would compile them. Problems are
 * coded diagnostics (an unknown name, an `n` the connection does not take).
 */
export function chooseConnections(checked: CheckResult, file: string, cwd: string, choice: ConnectionChoice): { connections: CheckedConnection[] } | { diagnostics: Diagnostic[] } {
  const settings: Record<string, CompileValue> = { ...(choice.args ?? {}), ...(choice.n !== undefined ? { n: choice.n } : {}) };
  if (choice.connection !== undefined) {
    const scope = checked.checked.scopes.get(resolve(cwd, file));
    const found = scope?.lookup(choice.connection);
    if (found?.kind !== "connection") {
      const known = scope?.names("connection") ?? [];
      const help = didYouMean(choice.connection, known);
      return { diagnostics: [makeDiagnostic(Diag.UnknownConnection, undefined, [choice.connection], help ? { help } : { notes: [`connections in scope: ${known.map((k) => `\`${k}\``).join(", ")}`] })] };
    }
    const one = instantiate(checked, choice.connection, settings);
    return "code" in one ? { diagnostics: [one] } : { connections: [one] };
  }
  const { selected } = selectConnections(checked);
  if (selected.length === 0) {
    return { diagnostics: [makeDiagnostic(Diag.BadSetting, undefined, ["--connection", `\`${file}\` declares no connection that checks with its defaults`], { help: "name one with `--connection` (prelude connections such as `mhc` work too)" })] };
  }
  if (Object.keys(settings).length === 0) return { connections: selected };
  const connections: CheckedConnection[] = [];
  for (const conn of selected) {
    const one = instantiate(checked, conn.name, settings);
    if ("code" in one) return { diagnostics: [one] };
    connections.push(one);
  }
  return { connections };
}

function instantiate(checked: CheckResult, name: string, settings: Readonly<Record<string, CompileValue>>): CheckedConnection | Diagnostic {
  try {
    return instantiateConnection(checked, name, settings);
  } catch (error) {
    if (!(error instanceof CudaCodegenError)) throw error;
    const what = Object.entries(settings).map(([k, v]) => `${k} = ${String(v)}`).join(", ");
    return makeDiagnostic(Diag.BadSetting, undefined, [what ? `${what} on \`${name}\`` : name, error.message]);
  }
}
