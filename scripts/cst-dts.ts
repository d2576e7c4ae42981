import { generateCstDts } from "@chevrotain/cst-dts-gen";
import { parser } from "../grammar/parser.js";

const header = "// Generated from grammar/parser.ts by scripts/gen-cst-dts.ts. Do not edit.\n";

export function cstDeclarations(): string {
  return header + generateCstDts(parser.getGAstProductions(), { visitorInterfaceName: "MhcCstVisitor" });
}
