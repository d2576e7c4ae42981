#!/usr/bin/env node
// The `mhc` command. It loads the bundled compiler (`mhc-core.cjs`) through a
// V8 code cache made at build time, which skips compiling the bundle's
// functions again on every run: for a command that checks a file in tens of
// milliseconds, compilation is most of the start-up. A cache made by another
// Node.js version is rejected by V8 and the bundle compiles as usual.
"use strict";
const { readFileSync, writeFileSync, renameSync } = require("node:fs");
const { join } = require("node:path");
const { Script } = require("node:vm");
const Module = require("node:module");

const corePath = join(__dirname, "mhc-core.cjs");
const cachePath = join(__dirname, "mhc-core.cache");
let cachedData;
try {
  cachedData = readFileSync(cachePath);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(readFileSync(corePath, "utf8")), { filename: corePath, cachedData });
const core = { exports: {} };
script.runInThisContext()(core.exports, require, core, corePath, __dirname);
Promise.resolve(core.exports.runCli(process.argv.slice(2), core.exports.processIO())).then((code) => {
  process.exitCode = code;
  // `npm run build` runs a few checks with this set to write the cache, after
  // the functions a run needs have been compiled.
  if (process.env.MHC_WRITE_CODE_CACHE === "1") {
    const temp = `${cachePath}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData());
    renameSync(temp, cachePath);
  }
});
