import { formatMessage } from "../../compiler/diagnostics/diagnostic.js";
import type { MessageDef } from "../../compiler/diagnostics/messages.js";

/**
 * A failure of the native runtime that the user can act on: no driver, no
 * device, a missing library, a status code from an entry point. It carries the
 * catalogue entry and its arguments, so the command line reports it as a coded
 * diagnostic; anything else thrown from here is a bug.
 */
export class NativeError extends Error {
  override readonly name = "NativeError";

  constructor(
    readonly def: MessageDef,
    readonly args: readonly (string | number)[],
    readonly extras: { readonly notes?: readonly string[]; readonly help?: string } = {},
  ) {
    super(formatMessage(def.message, args));
  }
}

/** The message of anything thrown, for notes. */
export function describeThrown(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
