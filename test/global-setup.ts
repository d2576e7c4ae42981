import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Vitest `globalSetup`: builds `dist/mhc.cjs` once before the tests that spawn
 * the real command line (`test/diagnostics/new-user.test.ts`). The build is
 * skipped when the bundle is newer than every source it is made from, and
 * entirely with `MHC_SKIP_BUILD=1` (e.g. in CI after an explicit build step).
 */
const root = fileURLToPath(new URL("..", import.meta.url));
const bundle = join(root, "dist", "mhc.cjs");
const sourceDirs = ["compiler", "grammar", "runtime"];
const sourceFiles = ["package.json", "tsconfig.build.json", join("scripts", "bundle-cli.mjs"), join("compiler", "cli", "launch.cjs")];

function newestSource(): number {
  let newest = 0;
  const visit = (path: string): void => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else if (/\.(ts|mts|mjs|cjs|json|mhc|md)$/.test(path)) newest = Math.max(newest, stat.mtimeMs);
  };
  for (const dir of sourceDirs) if (existsSync(join(root, dir))) visit(join(root, dir));
  for (const file of sourceFiles) if (existsSync(join(root, file))) newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
  return newest;
}

export default function setup(): void {
  if (process.env["MHC_SKIP_BUILD"] === "1") return;
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource()) return;
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["run", "build", "--silent"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  if (result.status !== 0) {
    throw new Error(`\`npm run build\` failed (exit ${result.status ?? result.signal}), so the CLI tests cannot run:\n${result.stdout}${result.stderr}`);
  }
}
