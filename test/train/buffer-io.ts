import { ROOT } from "../codegen/tfjs/helpers.js";

/** A CliIO for in-process `mhc train` runs that keeps what the command printed. */
export function bufferIO() {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) }, cwd: ROOT, env: {} } };
}
