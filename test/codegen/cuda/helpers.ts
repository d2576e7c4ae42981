import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { checkFiles, type CheckResult } from "../../../compiler/driver.js";

export const root = join(import.meta.dirname, "..", "..", "..");
const goldenDir = join(import.meta.dirname, "golden");
const update = process.env["UPDATE_GOLDENS"] === "1";

/** Checks a file of the repository, which must have no errors. */
export function check(file: string): CheckResult {
  const result = checkFiles([join(root, file)], { cwd: root });
  expect(result.errorCount).toBe(0);
  return result;
}

/** Compares generated text with its golden file (`UPDATE_GOLDENS=1` rewrites it; a missing one is written outside CI). */
export function golden(name: string, text: string): void {
  const path = join(goldenDir, name);
  if (update || (!existsSync(path) && process.env["CI"] !== "true")) writeFileSync(path, text);
  expect(text, `golden ${name} (UPDATE_GOLDENS=1 rewrites it)`).toBe(readFileSync(path, "utf8"));
}

/** A per-stream norm with a flat projection: valid maths that the CUDA target refuses (MHC5001). */
export const FLAT_STREAM_SOURCE =
  "connection flat_stream(n: int = 4) {\n  streams n\n  norm rms_stream(eps = 1e-6)\n  pre dynamic tanh unconstrained()\n  post dynamic tanh unconstrained()\n  res dynamic tanh unconstrained()\n}\n";

/** Checks `source` written to a temporary file (which must have no errors) and hands the result to `use`. */
export function withCheckedSource<T>(source: string, use: (result: CheckResult) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "mhc-src-"));
  try {
    writeFileSync(join(dir, "c.mhc"), source);
    const result = checkFiles([join(dir, "c.mhc")], { cwd: dir });
    expect(result.errorCount).toBe(0);
    return use(result);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether every `{` has its `}` (comments stripped): generated code nests properly. */
export function balanced(text: string): boolean {
  let depth = 0;
  for (const ch of text.replace(/\/\/.*$/gm, "")) {
    if (ch === "{") depth++;
    if (ch === "}" && --depth < 0) return false;
  }
  return depth === 0;
}
