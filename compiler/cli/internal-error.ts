import { mkdtempSync, writeFileSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { Diag } from "../diagnostics/messages.js";
import { formatMessage } from "../diagnostics/diagnostic.js";
import type { CliIO } from "./io.js";

/**
 * An internal compiler error is a bug in mhc, never the user's fault: it is
 * printed apart from user diagnostics, with the path of a reproducer (the
 * command line, the input files and the stack) to attach to a bug report.
 */
export function reportInternalError(error: unknown, argv: readonly string[], io: CliIO): void {
  const message = error instanceof Error ? error.message : String(error);
  let where = "";
  try {
    where = saveReproducer(error, argv, io.cwd);
  } catch {
    where = "";
  }
  io.stderr.write(`${Diag.InternalError.code === "MHC9001" ? "internal compiler error[MHC9001]" : "internal compiler error"}: ${formatMessage("{0}", [message])}\n`);
  io.stderr.write("  = note: this is a bug in mhc, not in your input\n");
  if (where) io.stderr.write(`  = note: a reproducer was saved to ${where}\n`);
  io.stderr.write("  = help: please report it with the reproducer attached\n");
}

function saveReproducer(error: unknown, argv: readonly string[], cwd: string): string {
  const dir = mkdtempSync(join(tmpdir(), "mhc-ice-"));
  const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
  const inputs = argv.filter((a) => a.endsWith(".mhc") && existsSync(join(cwd, a)));
  for (const [i, input] of inputs.entries()) copyFileSync(join(cwd, input), join(dir, `${i}-${basename(input)}`));
  const report = { argv, cwd, node: process.version, platform: `${process.platform}-${process.arch}`, inputs, stack };
  writeFileSync(join(dir, "reproducer.json"), JSON.stringify(report, null, 2) + "\n");
  return dir;
}
