import type { IRecognitionException, IToken } from "chevrotain";
import { Diag } from "../compiler/diagnostics/messages.js";
import { makeDiagnostic, type Diagnostic } from "../compiler/diagnostics/diagnostic.js";
import { span, type Span } from "../compiler/source/span.js";
import type { EncodedSyntaxError } from "./parser.js";
import { Identifier, keywords, NumberLiteral, StringLiteral } from "./tokens.js";

/** What a grammar rule is called in messages ("unexpected `]` in an expression"). */
const ruleContext: Record<string, string> = {
  declaration: "at the top level",
  importDecl: "in an `import`",
  constraintDecl: "in a constraint declaration",
  paramList: "in a parameter list",
  param: "in a parameter",
  typeExpr: "where a type was expected",
  statementBlock: "in a constraint body",
  statement: "where a statement was expected",
  letStatement: "in a `let` statement",
  assignStatement: "in an assignment",
  repeatStatement: "in a `repeat` statement",
  returnStatement: "in a `return` statement",
  connectionDecl: "in a connection declaration",
  modelDecl: "in a model declaration",
  fieldBlock: "in a field list",
  field: "where a field was expected",
  blockField: "in a `block`",
  sublayer: "where a sublayer was expected",
  valueField: "in a field",
  mapMode: "in a map mode",
  callExpression: "in a call",
  argument: "in an argument",
  parenExpression: "in parentheses",
  listLiteral: "in a list",
  expression: "in an expression",
  additiveExpression: "in an expression",
  multiplicativeExpression: "in an expression",
  matmulExpression: "in an expression",
  unaryExpression: "in an expression",
  postfixExpression: "in an expression",
  primaryExpression: "in an expression",
};

/** Collapses the many first tokens of an expression into one phrase. */
function summariseExpected(expected: readonly string[]): string[] {
  if (expected.includes("a number") && expected.includes("a name") && expected.includes("`(`")) {
    return ["an expression", ...expected.filter((e) => !["a number", "a name", "`(`", "`[`", "`-`", "`true`", "`false`"].includes(e))];
  }
  return [...expected];
}

export function describeToken(token: IToken | undefined): string {
  if (!token || token.tokenType.name === "EOF" || Number.isNaN(token.startOffset)) return "the end of the declaration";
  if (token.tokenType === Identifier) return `name \`${token.image}\``;
  if (token.tokenType === NumberLiteral) return `number \`${token.image}\``;
  if (token.tokenType === StringLiteral) return `string ${token.image}`;
  if (keywords.has(token.image)) return `keyword \`${token.image}\``;
  return `\`${token.image}\``;
}

function decode(message: string): EncodedSyntaxError {
  try {
    return JSON.parse(message) as EncodedSyntaxError;
  } catch {
    return { kind: "noViableAlt", expected: [], rule: "" };
  }
}

/**
 * Turns Chevrotain's recognition exceptions for one declaration into coded
 * diagnostics. `segmentEnd` is where a missing token at the end of input is
 * reported (the end of the declaration's last token).
 */
export function syntaxDiagnostics(errors: readonly IRecognitionException[], file: string, segmentEnd: number, lineOf: (offset: number) => number): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Recovery can report a second error for the same mistake a few tokens later;
  // one error per line of a declaration keeps each root cause to one message.
  const linesWithErrors = new Set<number>();
  for (const error of errors) {
    const info = decode(error.message);
    const token = error.token;
    const atEnd = !token || Number.isNaN(token.startOffset) || token.tokenType.name === "EOF";
    const where: Span = atEnd ? span(file, segmentEnd, segmentEnd) : span(file, token.startOffset, token.startOffset + token.image.length);
    const line = lineOf(where.start);
    if (linesWithErrors.has(line)) continue;
    linesWithErrors.add(line);
    const stack = error.context?.ruleStack ?? [info.rule];
    const rule = [...stack].reverse().find((r) => ruleContext[r] !== undefined) ?? "";
    const context = ruleContext[rule] ?? "here";
    const found = describeToken(atEnd ? undefined : token);

    if (!atEnd && keywords.has(token.image) && info.expected.length === 1 && info.expected[0] === "a name") {
      out.push(makeDiagnostic(Diag.KeywordAsName, where, [token.image], { label: "reserved keyword", help: `pick another name, such as \`${token.image}_\`` }));
      continue;
    }
    switch (info.kind) {
      case "mismatch": {
        const expected = info.expected[0] ?? "something else";
        out.push(makeDiagnostic(Diag.ExpectedToken, where, [expected, found], { label: `expected ${expected}` }));
        break;
      }
      case "notAllInput":
        out.push(makeDiagnostic(Diag.TrailingInput, where, [found, "the declaration"], { label: "nothing may follow here", help: "remove it, or start a new declaration with `constraint`, `connection`, `model` or `import`" }));
        break;
      default: {
        const expected = summariseExpected(info.expected);
        const extras = expected.length > 0 && expected.length <= 8 ? { help: `expected ${oneOf(expected)}` } : {};
        out.push(makeDiagnostic(Diag.UnexpectedToken, where, [found, context], { label: "unexpected here", ...extras }));
      }
    }
  }
  return out;
}

export function oneOf(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.length === 2 ? "" : "one of "}${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}
