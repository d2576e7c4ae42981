// Bundles the `mhc` command into one file. Loading chevrotain's many ES
// modules one by one costs more than the whole check of a file, so the
// binary is a single module; identifiers are kept so stack traces stay readable.
import { build } from "esbuild";

await build({
  entryPoints: ["compiler/cli/main.ts"],
  outfile: "dist/mhc.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "linked",
  // Optional peers and native modules are resolved at run time, never bundled.
  external: ["@tensorflow/*", "koffi", "prettier"],
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __mhcCreateRequire } from 'node:module'; const require = __mhcCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
