import type { Expr } from "./ast.js";

/** Binding strength of each operator, higher binds tighter (design.md §2.2). */
const precedence: Record<string, number> = { "+": 1, "-": 1, "*": 2, "/": 2, "@": 3 };
const UNARY = 4;
const POSTFIX = 5;

/**
 * Prints an expression back as source. With `parenthesize: "all"` every
 * operation gets parentheses, which shows exactly how the parser grouped it
 * (the precedence tests read that form); otherwise only the parentheses that
 * precedence and left-associativity need are written.
 */
export function printExpr(e: Expr, options: { parenthesize?: "all" | "minimal" } = {}): string {
  const all = options.parenthesize === "all";
  const go = (x: Expr, context: number, rightOperand = false): string => {
    switch (x.kind) {
      case "Number":
        return x.text;
      case "Bool":
        return String(x.value);
      case "Name":
        return x.name;
      case "ErrorExpr":
        return "<error>";
      case "List":
        return `[${x.items.map((i) => go(i, 0)).join(", ")}]`;
      case "Call":
        return `${x.callee.name}(${x.args.map((a) => (a.name ? `${a.name.name} = ` : "") + go(a.value, 0)).join(", ")})`;
      case "Transpose": {
        const inner = `${go(x.operand, POSTFIX)}.T`;
        return all ? `(${inner})` : inner;
      }
      case "Unary": {
        const inner = `-${go(x.operand, UNARY)}`;
        return all || context > UNARY ? `(${inner})` : inner;
      }
      case "Binary": {
        const p = precedence[x.op]!;
        const inner = `${go(x.left, p)} ${x.op} ${go(x.right, p, true)}`;
        const needs = all || p < context || (rightOperand && p === context);
        return needs ? `(${inner})` : inner;
      }
    }
  };
  return go(e, 0);
}
