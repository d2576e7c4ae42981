import { resolve } from "node:path";
import { DiagnosticBag } from "../../diagnostics/bag.js";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { formatSource } from "../../fmt/format.js";
import { writeFileAtomic } from "../../io/ndarray.js";
import { reportReadFailure } from "../../sema/program.js";
import { readSource } from "../../source/read-source.js";
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
  const bag = new DiagnosticBag();
  const unformatted: string[] = [];
  for (const file of files) {
    const path = resolve(io.cwd, file);
    // Read as every other command reads sources: a binary, mis-encoded or huge file is
    // reported, never decoded lossily and written back.
    const read = readSource(path);
    if (!read.ok) {
      if (read.reason === "binary" || read.reason === "not-utf8") sources.add(file, read.lossyText);
      reportReadFailure(read, file, undefined, bag);
      continue;
    }
    const text = read.text;
    sources.add(file, text);
    const result = formatSource(text, file);
    if (!result.ok) {
      bag.addAll(result.diagnostics);
      continue;
    }
    if (options.stdout) {
      io.stdout.write(result.text);
    } else if (result.changed) {
      unformatted.push(file);
      if (!options.check) {
        const written = writeFileAtomic(path, new TextEncoder().encode(result.text));
        if (!written.ok) bag.add(makeDiagnostic(Diag.CannotWrite, undefined, [file, written.reason]));
      }
    }
  }

  const diagnostics = bag.diagnostics;
  reportDiagnostics(diagnostics, sources, files, io, { ...options, verb: "format" });
  if (!options.stdout) {
    for (const file of unformatted) io.stderr.write(options.check ? `not formatted: ${file}\n` : `formatted ${file}\n`);
  }
  const failed = diagnostics.some((d) => d.severity === "error") || (options.check === true && unformatted.length > 0);
  return failed ? ExitCode.UserError : ExitCode.Ok;
}
