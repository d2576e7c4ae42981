// The entry of the bundled compiler that `launch.cjs` loads.
export { runCli } from "./app.js";
export { processIO } from "./io.js";
