import { runCli } from "./app.js";
import { processIO } from "./io.js";

process.exitCode = runCli(process.argv.slice(2), processIO());
