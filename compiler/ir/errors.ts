/**
 * An internal compiler error raised by the IR layer: invalid construction through the
 * factory, a malformed textual IR, or an interpreter asked to run an ill-formed graph.
 * It is never shown to users as a diagnostic; reaching it means a compiler bug (the
 * driver turns it into an MHC9xxx internal error).
 */
export class IrError extends Error {
  override readonly name = "IrError";
}

export function irAssert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new IrError(typeof message === "string" ? message : message());
}
