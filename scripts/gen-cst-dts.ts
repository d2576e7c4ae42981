/**
 * Writes `grammar/cst.generated.d.ts` from the parser's productions.
 * `npm run gen:cst` after a grammar change; a test fails when the file drifts.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cstDeclarations } from "./cst-dts.js";

const target = fileURLToPath(new URL("../grammar/cst.generated.d.ts", import.meta.url));
writeFileSync(target, cstDeclarations());
console.log(`wrote ${target}`);
