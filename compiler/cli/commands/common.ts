import type { Diagnostic } from "../../diagnostics/diagnostic.js";
import { formatJson } from "../../diagnostics/json.js";
import { Diag } from "../../diagnostics/messages.js";
import { renderDiagnostics, renderSummary, useColor } from "../../diagnostics/render.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import { checkFiles, type CheckResult } from "../../driver.js";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import type { CompileValue } from "../../lower/values.js";
import { SourceSet } from "../../source/source-set.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";

/** Prints diagnostics (human form on stderr, or a JSON array on stdout) with the closing summary. */
export function reportDiagnostics(diagnostics: readonly Diagnostic[], sources: SourceSet, files: readonly string[], io: CliIO, options: { format?: string; color?: boolean; verb?: string } = {}): void {
  if (options.format === "json") {
    io.stdout.write(formatJson(diagnostics, sources));
    return;
  }
  if (diagnostics.length === 0) return;
  const color = useColor(io.stderr, options.color, io.env);
  io.stderr.write(renderDiagnostics(diagnostics, sources, { color }) + "\n");
  const errorCount = diagnostics.filter((d) => d.severity === "error").length;
  const warningCount = diagnostics.filter((d) => d.severity === "warning").length;
  io.stderr.write(renderSummary(files, { errorCount, warningCount, suppressed: 0 }, { color, ...(options.verb ? { verb: options.verb } : {}) }));
}

/** Checks the file a command works on; on errors, prints them and returns the exit code. */
export function checkOrReport(file: string | readonly string[], io: CliIO, options: { format?: string; color?: boolean } = {}): CheckResult | ExitCode {
  const files = typeof file === "string" ? [file] : file;
  const result = checkFiles(files, { cwd: io.cwd });
  if (result.errorCount > 0) {
    reportDiagnostics(result.diagnostics, result.sources, files, io, options);
    return ExitCode.UserError;
  }
  // Warnings are shown but do not stop the command.
  if (result.diagnostics.length > 0) reportDiagnostics(result.diagnostics, result.sources, files, io, options);
  return result;
}

/** Reports problems that have no place in a source file (inputs, settings) and returns exit code 1. */
export function failWith(diagnostics: readonly Diagnostic[], file: string, io: CliIO, options: { format?: string; color?: boolean } = {}): ExitCode {
  reportDiagnostics(diagnostics, new SourceSet(), [file], io, { verb: "run", ...options });
  return ExitCode.UserError;
}

/** `--set iters=30 --set flag=true`: compile-time values by name. */
export function parseSettings(raw: unknown): Map<string, CompileValue> {
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const out = new Map<string, CompileValue>();
  for (const item of items) {
    const text = String(item);
    const eq = text.indexOf("=");
    if (eq <= 0) throw new UsageError(`\`--set ${text}\` must look like \`name=value\``);
    const name = text.slice(0, eq).trim();
    const value = text.slice(eq + 1).trim();
    if (value === "true" || value === "false") out.set(name, value === "true");
    else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) out.set(name, Number(value));
    else throw new UsageError(`\`--set ${text}\`: the value must be a number, \`true\` or \`false\``);
  }
  return out;
}

/** The declared type of a setting and the value given: a coded error when they disagree. */
export function checkSetting(name: string, value: CompileValue, type: string, owner: string): Diagnostic | undefined {
  const ok =
    type === "bool" ? typeof value === "boolean" : type === "int" ? typeof value === "number" && Number.isInteger(value) : type === "float" ? typeof value === "number" : true;
  if (ok) return undefined;
  return makeDiagnostic(Diag.BadSetting, undefined, [name, `\`${owner}\` declares it \`${type}\`, and \`${String(value)}\` is not one`]);
}

/** A name the user asked for that the file does not declare. */
export function unknownSetting(name: string, owner: string, known: readonly string[]): Diagnostic {
  const help = didYouMean(name, known);
  return makeDiagnostic(Diag.BadSetting, undefined, [name, `\`${owner}\` has no parameter of that name`], help ? { help } : { notes: [known.length ? `its parameters are ${known.map((k) => `\`${k}\``).join(", ")}` : `it has no parameters`] });
}
