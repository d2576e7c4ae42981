import type { Span } from "../source/span.js";
import { makeDiagnostic, type Diagnostic, type DiagnosticExtras } from "./diagnostic.js";
import type { MessageDef } from "./messages.js";

/** Past this many errors in one file, the rest are counted but not kept. */
export const MAX_ERRORS_PER_FILE = 50;

/**
 * Collects diagnostics for one compilation. It drops repeats of one problem
 * (see `add`) and caps the
 * number of errors per file so a garbage input cannot flood the terminal.
 */
export class DiagnosticBag {
  private readonly items: Diagnostic[] = [];
  private readonly seen = new Set<string>();
  private readonly errorsPerFile = new Map<string, number>();
  private suppressedCount = 0;

  report(def: MessageDef, span: Span | undefined, args: readonly (string | number)[] = [], extras: DiagnosticExtras = {}): Diagnostic {
    const diagnostic = makeDiagnostic(def, span, args, extras);
    this.add(diagnostic);
    return diagnostic;
  }

  add(diagnostic: Diagnostic): void {
    const where = diagnostic.span ? `${diagnostic.span.file}:${diagnostic.span.start}` : "";
    // A syntax error silences any later error at the same place (one bad token,
    // one message); otherwise the same code at the same place is reported once,
    // e.g. when a constraint is checked again for each use.
    if (diagnostic.severity === "error" && diagnostic.span) {
      if (this.seen.has(`syntax@${where}`)) return;
      if (diagnostic.code.startsWith("MHC1")) this.seen.add(`syntax@${where}`);
    }
    const exact = `${diagnostic.code}@${where}`;
    if (this.seen.has(exact)) return;
    this.seen.add(exact);
    if (diagnostic.severity === "error") {
      const file = diagnostic.span?.file ?? "";
      const count = (this.errorsPerFile.get(file) ?? 0) + 1;
      this.errorsPerFile.set(file, count);
      if (count > MAX_ERRORS_PER_FILE) {
        this.suppressedCount++;
        return;
      }
    }
    this.items.push(diagnostic);
  }

  addAll(diagnostics: Iterable<Diagnostic>): void {
    for (const d of diagnostics) this.add(d);
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.items;
  }

  /** Errors that were counted but not kept because a file passed the cap. */
  get suppressed(): number {
    return this.suppressedCount;
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === "error").length + this.suppressedCount;
  }

  get warningCount(): number {
    return this.items.filter((d) => d.severity === "warning").length;
  }

  hasErrors(): boolean {
    return this.errorCount > 0;
  }
}
