import { resolve } from "node:path";
import { checkFiles, type CheckResult } from "../../compiler/driver.js";
import { readSource } from "../../compiler/source/read-source.js";

/** Root of the in-memory tree the sources live in during a test. */
export const MEMORY_ROOT = "/virtual";

/**
 * Checks in-memory sources (`main.mhc` is the entry) with the real prelude.
 * Files not in `files` are read from disk, so the prelude resolves as usual.
 */
export function checkSource(main: string, files: Record<string, string> = {}, options: { verbose?: boolean } = {}): CheckResult {
  const all: Record<string, string> = { "main.mhc": main, ...files };
  return checkFiles(["main.mhc"], {
    cwd: MEMORY_ROOT,
    verbose: options.verbose ?? false,
    read: (abs) => {
      for (const [name, text] of Object.entries(all)) if (resolve(MEMORY_ROOT, name) === abs) return { ok: true, text };
      return abs.startsWith(MEMORY_ROOT) ? { ok: false, reason: "not-found", detail: "no such file" } : readSource(abs);
    },
  });
}

/** `CODE@line:column` of every diagnostic, for assertions that do not depend on wording. */
export function codes(result: CheckResult): string[] {
  return result.diagnostics.map((d) => {
    const file = d.span ? result.sources.get(d.span.file) : undefined;
    const at = d.span && file ? file.positionAt(d.span.start) : undefined;
    return at ? `${d.code}@${at.line}:${at.column}` : d.code;
  });
}
