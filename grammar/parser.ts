import { CstParser, type CstNode, type IParserErrorMessageProvider, type IToken, type TokenType } from "chevrotain";
import {
  AdditiveOperator, allTokens, Arrow, At, Colon, Comma, DotT, Equals, Identifier, KwBlock, KwConnection, KwConstraint,
  Keyword, KwDynamic, KwFalse, KwImport, KwInit, KwLet, KwModel, KwRepeat, KwReturn, KwStatic, KwTrue, KwWith, LBrace,
  LBracket, LParen, Minus, MultiplicativeOperator, NumberLiteral, RBrace, RBracket, RParen, StringLiteral,
  describeTokenType,
} from "./tokens.js";

/**
 * Chevrotain hands its error messages to us as strings; we encode the parts we
 * need (what was expected, what was found) as JSON and decode them in
 * `syntax-errors.ts`, where they become coded diagnostics.
 */
export interface EncodedSyntaxError {
  readonly kind: "mismatch" | "noViableAlt" | "earlyExit" | "notAllInput";
  readonly expected: string[];
  readonly rule: string;
}

function encode(kind: EncodedSyntaxError["kind"], expected: string[], rule: string): string {
  const payload: EncodedSyntaxError = { kind, expected, rule };
  return JSON.stringify(payload);
}

function firstTokens(paths: TokenType[][][]): string[] {
  const names = new Set<string>();
  // `Keyword` is accepted where names go only to report it; it is never what is expected.
  for (const alternative of paths) for (const path of alternative) if (path[0] && path[0] !== Keyword) names.add(describeTokenType(path[0]));
  return [...names];
}

const messageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, ruleName }) => encode("mismatch", [describeTokenType(expected)], ruleName),
  buildNotAllInputParsedMessage: ({ ruleName }) => encode("notAllInput", [], ruleName),
  buildNoViableAltMessage: ({ expectedPathsPerAlt, ruleName }) => encode("noViableAlt", firstTokens(expectedPathsPerAlt), ruleName),
  buildEarlyExitMessage: ({ expectedIterationPaths, ruleName }) => encode("earlyExit", firstTokens([expectedIterationPaths]), ruleName),
};

/**
 * The grammar of `.mhc` (design.md §2), LL(2). Precedence is encoded by rule
 * nesting, lowest first: `+ -`, then `* /`, then `@`, then unary `-`, then `.T`.
 * The grammar accepts a little more than the language (any field name, any
 * value in a field) so that sema can say precisely what is wrong.
 */
class MhcParser extends CstParser {
  constructor() {
    super(allTokens as TokenType[], {
      recoveryEnabled: true,
      nodeLocationTracking: "onlyOffset",
      maxLookahead: 3,
      errorMessageProvider: messageProvider,
      skipValidations: process.env["MHC_VALIDATE_GRAMMAR"] !== "1",
    });
    this.performSelfAnalysis();
  }

  public declaration = this.RULE("declaration", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.constraintDecl) },
      { ALT: () => this.SUBRULE(this.connectionDecl) },
      { ALT: () => this.SUBRULE(this.modelDecl) },
    ]);
  });

  public importDecl = this.RULE("importDecl", () => {
    this.CONSUME(KwImport);
    this.CONSUME(StringLiteral);
  });

  public constraintDecl = this.RULE("constraintDecl", () => {
    this.CONSUME(KwConstraint);
    this.CONSUME(Identifier);
    this.SUBRULE(this.paramList);
    this.CONSUME(Arrow);
    this.SUBRULE(this.typeExpr);
    this.SUBRULE(this.statementBlock);
  });

  public paramList = this.RULE("paramList", () => {
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.param) });
    this.CONSUME(RParen);
  });

  public param = this.RULE("param", () => {
    this.SUBRULE(this.bindingName);
    this.CONSUME(Colon);
    this.SUBRULE(this.typeExpr);
    this.OPTION(() => {
      this.CONSUME(Equals);
      this.SUBRULE(this.expression);
    });
  });

  /** A name being bound. A reserved word is accepted here so it gets a precise error, not a cascade. */
  public bindingName = this.RULE("bindingName", () => {
    this.OR([
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.CONSUME(Keyword) },
    ]);
  });

  public typeExpr = this.RULE("typeExpr", () => {
    this.OR([
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.SUBRULE(this.listLiteral) },
    ]);
  });

  public statementBlock = this.RULE("statementBlock", () => {
    this.CONSUME(LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(RBrace);
  });

  public statement = this.RULE("statement", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letStatement) },
      { ALT: () => this.SUBRULE(this.assignStatement) },
      { ALT: () => this.SUBRULE(this.repeatStatement) },
      { ALT: () => this.SUBRULE(this.returnStatement) },
    ]);
  });

  public letStatement = this.RULE("letStatement", () => {
    this.CONSUME(KwLet);
    this.SUBRULE(this.bindingName);
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  public assignStatement = this.RULE("assignStatement", () => {
    this.CONSUME(Identifier);
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  public repeatStatement = this.RULE("repeatStatement", () => {
    this.CONSUME(KwRepeat);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.statementBlock);
  });

  public returnStatement = this.RULE("returnStatement", () => {
    this.CONSUME(KwReturn);
    this.SUBRULE(this.expression);
  });

  public connectionDecl = this.RULE("connectionDecl", () => {
    this.CONSUME(KwConnection);
    this.CONSUME(Identifier);
    this.OPTION(() => this.SUBRULE(this.paramList));
    this.SUBRULE(this.fieldBlock);
  });

  public modelDecl = this.RULE("modelDecl", () => {
    this.CONSUME(KwModel);
    this.CONSUME(Identifier);
    this.SUBRULE(this.fieldBlock);
  });

  public fieldBlock = this.RULE("fieldBlock", () => {
    this.CONSUME(LBrace);
    this.MANY(() => this.SUBRULE(this.field));
    this.CONSUME(RBrace);
  });

  public field = this.RULE("field", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.blockField) },
      { ALT: () => this.SUBRULE(this.valueField) },
    ]);
  });

  public blockField = this.RULE("blockField", () => {
    this.CONSUME(KwBlock);
    this.CONSUME(LBrace);
    this.MANY(() => this.SUBRULE(this.sublayer));
    this.CONSUME(RBrace);
  });

  public sublayer = this.RULE("sublayer", () => {
    this.SUBRULE(this.callExpression, { LABEL: "call" });
    this.OPTION(() => {
      this.CONSUME(KwWith);
      this.SUBRULE2(this.callExpression, { LABEL: "connection" });
    });
  });

  /** `streams n`, `res dynamic sinkhorn(iters = 20) init 0`, `connection mhc(n = 4)`, `expand repeat`. */
  public valueField = this.RULE("valueField", () => {
    this.OR([
      { ALT: () => this.CONSUME(Identifier, { LABEL: "name" }) },
      // `connection` is a keyword at the top level and a field of models.
      { ALT: () => this.CONSUME(KwConnection, { LABEL: "name" }) },
    ]);
    this.OPTION(() => this.SUBRULE(this.mapMode));
    this.OR2([
      // `expand repeat`: the keyword is also the name of an expansion.
      { ALT: () => this.CONSUME(KwRepeat, { LABEL: "repeatValue" }) },
      { ALT: () => this.SUBRULE(this.expression, { LABEL: "value" }) },
    ]);
    this.OPTION2(() => {
      this.CONSUME(KwInit);
      this.SUBRULE2(this.expression, { LABEL: "init" });
    });
  });

  public mapMode = this.RULE("mapMode", () => {
    this.OR([
      { ALT: () => this.CONSUME(KwStatic) },
      {
        ALT: () => {
          this.CONSUME(KwDynamic);
          // `dynamic tanh sinkhorn()`: `tanh` is a modifier only when a name follows it.
          this.OPTION({
            GATE: () => this.LA(1).image === "tanh" && this.LA(2).tokenType === Identifier,
            DEF: () => this.CONSUME2(Identifier, { LABEL: "tanh" }),
          });
        },
      },
    ]);
  });

  // ---- expressions, lowest precedence first ----

  public expression = this.RULE("expression", () => {
    this.SUBRULE(this.additiveExpression);
  });

  public additiveExpression = this.RULE("additiveExpression", () => {
    this.SUBRULE(this.multiplicativeExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(AdditiveOperator, { LABEL: "operators" });
      this.SUBRULE2(this.multiplicativeExpression, { LABEL: "operands" });
    });
  });

  public multiplicativeExpression = this.RULE("multiplicativeExpression", () => {
    this.SUBRULE(this.matmulExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(MultiplicativeOperator, { LABEL: "operators" });
      this.SUBRULE2(this.matmulExpression, { LABEL: "operands" });
    });
  });

  public matmulExpression = this.RULE("matmulExpression", () => {
    this.SUBRULE(this.unaryExpression, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(At, { LABEL: "operators" });
      this.SUBRULE2(this.unaryExpression, { LABEL: "operands" });
    });
  });

  public unaryExpression = this.RULE("unaryExpression", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Minus);
          this.SUBRULE(this.unaryExpression);
        },
      },
      { ALT: () => this.SUBRULE(this.postfixExpression) },
    ]);
  });

  public postfixExpression = this.RULE("postfixExpression", () => {
    this.SUBRULE(this.primaryExpression);
    this.MANY(() => this.CONSUME(DotT));
  });

  public primaryExpression = this.RULE("primaryExpression", () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(KwTrue) },
      { ALT: () => this.CONSUME(KwFalse) },
      { ALT: () => this.SUBRULE(this.callExpression) },
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.SUBRULE(this.parenExpression) },
      { ALT: () => this.SUBRULE(this.listLiteral) },
    ]);
  });

  public callExpression = this.RULE("callExpression", () => {
    this.CONSUME(Identifier);
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.argument) });
    this.CONSUME(RParen);
  });

  public argument = this.RULE("argument", () => {
    this.OPTION(() => {
      this.CONSUME(Identifier, { LABEL: "name" });
      this.CONSUME(Equals);
    });
    this.SUBRULE(this.expression);
  });

  public parenExpression = this.RULE("parenExpression", () => {
    this.CONSUME(LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(RParen);
  });

  public listLiteral = this.RULE("listLiteral", () => {
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression) });
    this.CONSUME(RBracket);
  });
}

/** The one parser of the process (Chevrotain parsers are built once and reused). */
export const parser = new MhcParser();

/** Parses one top-level declaration from `tokens`. */
export function parseDeclaration(tokens: IToken[]): { cst: CstNode; errors: typeof parser.errors } {
  parser.input = tokens;
  const cst = parser.declaration();
  return { cst, errors: parser.errors };
}

export const declarationStartTokens: readonly TokenType[] = [KwImport, KwConstraint, KwConnection, KwModel];
export type { MhcParser };
