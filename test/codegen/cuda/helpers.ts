import { existsSync, readFileSync, writeFileSync } from "node:fs";
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
