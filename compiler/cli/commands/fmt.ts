import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Diagnostic } from "../../diagnostics/diagnostic.js";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { formatSource } from "../../fmt/format.js";
import { writeFileAtomic } from "../../io/ndarray.js";
import { SourceSet } from "../../source/source-set.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { reportDiagnostics } from "./common.js";

export interface FmtOptions {
  /** Write nothing; list the files that are not formatted and exit 1 if any. */
  readonly check?: boolean;
  /** Print the formatted text instead of rewriting the file (one file only). */
  readonly stdout?: boolean;
  readonly format?: string;
  readonly color?: boolean;
}

export const FMT_USAGE = "usage: mhc fmt FILE... [--check | --stdout]";

/**
 * `mhc fmt FILE...`: rewrites each file in the canonical layout (atomically, and only
 * when it changes). A file with syntax errors is reported and left untouched; the
 * others are still formatted. `--check` writes nothing and exits 1 when a file would
 * change, for CI; `--stdout` prints the result of one file.
 */
export function fmtCommand(files: readonly string[], options: FmtOptions, io: CliIO): ExitCode {
  if (files.length === 0) throw new UsageError(`no input files; ${FMT_USAGE}`);
  if (options.check && options.stdout) throw new UsageError(`\`--check\` and \`--stdout\` do not go together; ${FMT_USAGE}`);
  if (options.stdout && files.length > 1) throw new UsageError(`\`--stdout\` takes one file; ${FMT_USAGE}`);

  const sources = new SourceSet();
  const diagnostics: Diagnostic[] = [];
  const unformatted: string[] = [];
  for (const file of files) {
    const path = resolve(io.cwd, file);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      diagnostics.push(makeDiagnostic(Diag.InputNotFound, undefined, [file, (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String((e as Error).message)]));
      continue;
    }
    sources.add(file, text);
    const result = formatSource(text, file);
    if (!result.ok) {
      diagnostics.push(...result.diagnostics);
      continue;
    }
    if (options.stdout) {
      io.stdout.write(result.text);
    } else if (result.changed) {
      unformatted.push(file);
      if (!options.check) {
        const written = writeFileAtomic(path, new TextEncoder().encode(result.text));
        if (!written.ok) diagnostics.push(makeDiagnostic(Diag.CannotWrite, undefined, [file, written.reason]));
      }
    }
  }

  reportDiagnostics(diagnostics, sources, files, io, { ...options, verb: "format" });
  if (!options.stdout) {
    for (const file of unformatted) io.stderr.write(options.check ? `not formatted: ${file}\n` : `formatted ${file}\n`);
  }
  const failed = diagnostics.some((d) => d.severity === "error") || (options.check === true && unformatted.length > 0);
  return failed ? ExitCode.UserError : ExitCode.Ok;
}
