/** Where a command writes; tests pass buffers, the binary passes the process streams. */
export interface CliIO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface Writable {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env };
}

/** Exit codes (design.md §5). */
export const ExitCode = {
  Ok: 0,
  UserError: 1,
  Usage: 2,
  Internal: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake in how the command was called: printed with a hint to `--help`, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
