// Bundles the `mhc` command: `dist/mhc-core.cjs` (the whole compiler in one
// file: loading chevrotain's many ES modules one by one cost more than
// checking a file), the launcher `dist/mhc.cjs`, and a V8 code cache made by
// checking the examples once. Identifiers are kept so stack traces stay readable.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, readdirSync, rmSync } from "node:fs";

await build({
  entryPoints: ["compiler/cli/core.ts"],
  outfile: "dist/mhc-core.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "linked",
  // `import.meta.url` has no CommonJS meaning; the bundle's own file URL stands in for it.
  define: { "import.meta.url": "__mhcModuleUrl" },
  banner: { js: "const __mhcModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  // Optional peers and native or heavy modules are resolved at run time, never bundled.
  external: ["@tensorflow/*", "@viz-js/viz", "koffi", "prettier", "vega", "vega-lite", "esbuild"],
  // The bundle runs inside `vm.Script` (for the code cache), where `import()`
  // has no loader on Node 20: lazily loaded libraries come through `require`.
  supported: { "dynamic-import": false },
  logLevel: "warning",
});
// tfjs-core's gradients exist only as ES modules that import without file
// extensions; bundled into one CommonJS file they load in plain Node
// (`runtime/tfjs/backend.ts` ensureGradients).
await build({
  entryPoints: ["node_modules/@tensorflow/tfjs-core/dist/register_all_gradients.js"],
  outfile: "dist/tfjs-gradients.cjs",
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minifyWhitespace: true,
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync("compiler/cli/launch.cjs", "dist/mhc.cjs");
chmodSync("dist/mhc.cjs", 0o755);
rmSync("dist/mhc-core.cache", { force: true });

const examples = readdirSync("examples").filter((f) => f.endsWith(".mhc")).map((f) => `examples/${f}`);
const warm = spawnSync(process.execPath, ["dist/mhc.cjs", "check", ...examples], { env: { ...process.env, MHC_WRITE_CODE_CACHE: "1" }, stdio: "inherit" });
if (warm.status !== 0) throw new Error(`writing the code cache failed: \`mhc check\` exited ${warm.status}`);
