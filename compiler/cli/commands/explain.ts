import { explain } from "../../diagnostics/explain.js";
import { findMessage } from "../../diagnostics/messages.js";
import { useColor } from "../../diagnostics/render.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";

/** `mhc explain MHC3002`: the long form of a diagnostic. */
export function explainCommand(code: string | undefined, options: { color?: boolean }, io: CliIO): ExitCode {
  if (!code) throw new UsageError("usage: mhc explain CODE (for example `mhc explain MHC3002`)");
  const text = findMessage(code) ? explain(code, { color: useColor(io.stdout, options.color, io.env) }) : undefined;
  if (text === undefined) throw new UsageError(`\`${code}\` is not a diagnostic code of mhc (codes look like MHC3002)`);
  io.stdout.write(text.endsWith("\n") ? text : text + "\n");
  return ExitCode.Ok;
}
