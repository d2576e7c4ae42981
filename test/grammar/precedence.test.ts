import { describe, expect, it } from "vitest";
import { printExpr } from "../../grammar/print-expr.js";
import { parseExpr } from "./helpers.js";

const grouped = (source: string) => printExpr(parseExpr(source), { parenthesize: "all" });

describe("operator precedence and associativity (design.md §2.2)", () => {
  it.each([
    // `.T` > unary `-` > `@` > `* /` > `+ -`
    ["a + b * c", "(a + (b * c))"],
    ["a * b + c", "((a * b) + c)"],
    ["a * b @ c", "(a * (b @ c))"],
    ["a @ b * c", "((a @ b) * c)"],
    ["a + b @ c", "(a + (b @ c))"],
    ["-a @ b", "((-a) @ b)"],
    ["-a.T", "(-(a.T))"],
    ["a.T @ b.T", "((a.T) @ (b.T))"],
    ["a.T.T", "((a.T).T)"],
    ["- - a", "(-(-a))"],
    ["a * -b", "(a * (-b))"],
    // left associativity of every binary operator
    ["a - b - c", "((a - b) - c)"],
    ["a / b / c", "((a / b) / c)"],
    ["a @ b @ c", "((a @ b) @ c)"],
    ["a - b + c", "((a - b) + c)"],
    ["a / b * c", "((a / b) * c)"],
    // parentheses override
    ["(a + b) * c", "((a + b) * c)"],
    ["a - (b - c)", "(a - (b - c))"],
    ["(a @ b).T", "((a @ b).T)"],
    // calls, lists and literals as operands
    ["f(a + b, k = c * d) / 2.", "(f((a + b), k = (c * d)) / 2.)"],
    ["ones([n, n * 2]) - 1e-6", "(ones([n, (n * 2)]) - 1e-6)"],
    ["1 - -2 * x", "(1 - ((-2) * x))"],
  ])("%s  =>  %s", (source, expected) => {
    expect(grouped(source)).toBe(expected);
  });

  it("prints with minimal parentheses so that re-parsing gives the same grouping", () => {
    for (const source of ["a - (b - c)", "(a + b) * c", "-(a @ b)", "a / (b * c)", "(-a).T", "a @ (b @ c)", "x - y - z"]) {
      const minimal = printExpr(parseExpr(source));
      expect(grouped(minimal)).toBe(grouped(source));
    }
  });
});
