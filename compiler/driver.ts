import { join } from "node:path";
import { DiagnosticBag } from "./diagnostics/bag.js";
import type { Diagnostic } from "./diagnostics/diagnostic.js";
import { packageRoot } from "./package-root.js";
import { checkProgram, type CheckedProgram } from "./sema/index.js";
import { loadProgram, type LoadOptions } from "./sema/program.js";
import { SourceSet } from "./source/source-set.js";

export interface CheckOptions {
  /** Also keep `note` diagnostics (e.g. a map whose constraint ignores its logits). */
  readonly verbose?: boolean;
  /** Check without the implicit prelude (for testing the prelude itself). */
  readonly noPrelude?: boolean;
  readonly cwd?: string;
  readonly read?: LoadOptions["read"];
}

export interface CheckResult {
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: SourceSet;
  readonly checked: CheckedProgram;
  readonly errorCount: number;
  readonly warningCount: number;
  /** Errors past the per-file cap, counted but not kept. */
  readonly suppressed: number;
}

export function preludePath(): string {
  return join(packageRoot(), "compiler", "std", "std.mhc");
}

/** Front end of every command: load, parse and check `.mhc` files. */
export function checkFiles(paths: readonly string[], options: CheckOptions = {}): CheckResult {
  // Exercises the internal-error path end to end (exit code 70, reproducer); used by the CLI tests.
  if (process.env["MHC_FORCE_INTERNAL_ERROR"] === "1") throw new Error("forced internal error (MHC_FORCE_INTERNAL_ERROR=1)");
  const bag = new DiagnosticBag();
  const sources = new SourceSet();
  const program = loadProgram(
    paths,
    {
      ...(options.noPrelude ? {} : { preludePath: preludePath() }),
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.read ? { read: options.read } : {}),
    },
    sources,
    bag,
  );
  const checked = checkProgram(program, bag);
  const diagnostics = bag.diagnostics.filter((d) => options.verbose || d.severity !== "note");
  return { diagnostics: sortDiagnostics(diagnostics, sources), sources, checked, errorCount: bag.errorCount, warningCount: bag.warningCount, suppressed: bag.suppressed };
}

/** Diagnostics in file order, then by position, so output reads top to bottom. */
function sortDiagnostics(diagnostics: readonly Diagnostic[], _sources: SourceSet): Diagnostic[] {
  return diagnostics
    .map((d, index) => ({ d, index }))
    .sort((a, b) => {
      const fa = a.d.span?.file ?? "";
      const fb = b.d.span?.file ?? "";
      if (fa !== fb) return 0;
      return (a.d.span?.start ?? 0) - (b.d.span?.start ?? 0) || a.index - b.index;
    })
    .map(({ d }) => d);
}
