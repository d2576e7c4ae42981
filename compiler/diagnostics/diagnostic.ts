import type { Span } from "../source/span.js";
import type { MessageDef } from "./messages.js";

export type Severity = "error" | "warning" | "note";

/** A secondary location that helps explain a diagnostic ("declared here"). */
export interface SecondaryLabel {
  readonly span: Span;
  readonly message: string;
}

/**
 * One user-facing problem. Diagnostics are data: phases collect them in a
 * `DiagnosticBag` and the renderer decides how they look.
 */
export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  /** One lower-case sentence without a trailing period (rustc's style). */
  readonly message: string;
  /** The primary location; absent for problems that have no place in a file. */
  readonly span?: Span;
  /** Text under the primary `^^^` marker; it must make sense on its own. */
  readonly label?: string;
  readonly secondary: readonly SecondaryLabel[];
  readonly notes: readonly string[];
  /** How to fix it; only `help` says what to do. */
  readonly help?: string;
}

/** Optional parts of a diagnostic, given when it is reported. */
export interface DiagnosticExtras {
  label?: string;
  secondary?: SecondaryLabel[];
  notes?: string[];
  help?: string;
}

/** Fills a catalogue message's `{0}`, `{1}`, ... placeholders. */
export function formatMessage(template: string, args: readonly (string | number)[]): string {
  return template.replace(/\{(\d+)\}/g, (whole, index: string) => {
    const value = args[Number(index)];
    return value === undefined ? whole : String(value);
  });
}

export function makeDiagnostic(
  def: MessageDef,
  span: Span | undefined,
  args: readonly (string | number)[] = [],
  extras: DiagnosticExtras = {},
): Diagnostic {
  return {
    code: def.code,
    severity: def.severity,
    message: formatMessage(def.message, args),
    ...(span ? { span } : {}),
    ...(extras.label !== undefined ? { label: extras.label } : {}),
    secondary: extras.secondary ?? [],
    notes: extras.notes ?? [],
    ...(extras.help !== undefined ? { help: extras.help } : {}),
  };
}
