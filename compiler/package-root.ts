import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory of the installed `mhc-lang` package, for files shipped beside
 * the code (explain texts, the prelude). Found by walking up from this module
 * rather than by a fixed `../..`, because the same code runs from
 * `compiler/` (vitest, tsx) and from `dist/compiler/` (the built CLI), at
 * different depths. Checking the package name skips any other package.json on
 * the way (a nested one, or a user project we are installed into).
 */
export const PACKAGE_NAME = "mhc-lang";

let cached: string | undefined;

export function packageRoot(): string {
  cached ??= findPackageRoot(import.meta.url);
  return cached;
}

/** The nearest directory at or above `from` (a file URL or path) whose package.json names `mhc-lang`. */
export function findPackageRoot(from: string): string {
  let dir = dirname(from.startsWith("file:") ? fileURLToPath(from) : from);
  for (;;) {
    if (isOurPackage(join(dir, "package.json"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the ${PACKAGE_NAME} package root above ${from}`);
    dir = parent;
  }
}

function isOurPackage(manifest: string): boolean {
  if (!existsSync(manifest)) return false;
  try {
    const parsed: unknown = JSON.parse(readFileSync(manifest, "utf8"));
    return typeof parsed === "object" && parsed !== null && (parsed as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}
