import type { CliIO } from "../../compiler/cli/io.js";

export interface MemoryIO extends CliIO {
  out(): string;
  err(): string;
}

/** A CliIO that records what a command writes, with colour forced off. */
export function memoryIO(cwd = process.cwd()): MemoryIO {
  let out = "";
  let err = "";
  return {
    stdout: { write: (t: string) => (out += t), isTTY: false },
    stderr: { write: (t: string) => (err += t), isTTY: false },
    cwd,
    env: { NO_COLOR: "1" },
    out: () => out,
    err: () => err,
  };
}
