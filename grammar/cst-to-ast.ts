import type { CstNode, IToken } from "chevrotain";
import { makeDiagnostic, type Diagnostic } from "../compiler/diagnostics/diagnostic.js";
import { Diag } from "../compiler/diagnostics/messages.js";
import { span, type Span } from "../compiler/source/span.js";
import type * as A from "./ast.js";
import type * as C from "./cst.generated.js";

/**
 * The one visitor from Chevrotain's concrete syntax tree to our AST.
 *
 * After error recovery a CST node may lack children the grammar requires, so
 * every access is guarded: a missing expression becomes an `ErrorExpr`, a
 * missing name an empty identifier. The syntax error itself has already been
 * reported by the parser; nothing here reports again.
 */
export class CstToAst {
  /** Reserved words used as names: the grammar accepts them there only to report them precisely. */
  readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly file: string) {}

  declaration(node: C.DeclarationCstNode): A.Decl | undefined {
    const c = node.children;
    if (c.importDecl?.[0]) return this.importDecl(c.importDecl[0]);
    if (c.constraintDecl?.[0]) return this.constraintDecl(c.constraintDecl[0]);
    if (c.connectionDecl?.[0]) return this.connectionDecl(c.connectionDecl[0]);
    if (c.modelDecl?.[0]) return this.modelDecl(c.modelDecl[0]);
    return undefined;
  }

  private importDecl(node: C.ImportDeclCstNode): A.ImportDecl | undefined {
    const literal = node.children.StringLiteral?.[0];
    if (!literal || literal.isInsertedInRecovery) return undefined;
    return { kind: "Import", path: unquote(literal.image), pathSpan: this.tokenSpan(literal), span: this.nodeSpan(node) };
  }

  private constraintDecl(node: C.ConstraintDeclCstNode): A.ConstraintDecl {
    const c = node.children;
    return {
      kind: "Constraint",
      name: this.ident(c.Identifier?.[0], node),
      params: this.params(c.paramList?.[0]),
      result: this.typeExpr(c.typeExpr?.[0], node),
      body: this.statements(c.statementBlock?.[0]),
      span: this.nodeSpan(node),
    };
  }

  private params(node: C.ParamListCstNode | undefined): A.Param[] {
    return (node?.children.param ?? []).map((p) => {
      const c = p.children;
      const defaultNode = c.expression?.[0];
      return {
        kind: "Param",
        name: this.bindingName(c.bindingName?.[0], p),
        type: this.typeExpr(c.typeExpr?.[0], p),
        ...(defaultNode ? { default: this.expression(defaultNode) } : {}),
        span: this.nodeSpan(p),
      };
    });
  }

  private typeExpr(node: C.TypeExprCstNode | undefined, parent: CstNode): A.TypeRef {
    const name = node?.children.Identifier?.[0];
    if (node && name) return { kind: "NamedType", name: this.ident(name, node), span: this.nodeSpan(node) };
    const list = node?.children.listLiteral?.[0];
    if (node && list) return { kind: "ShapeType", dims: this.listItems(list), span: this.nodeSpan(list) };
    const where = this.nodeSpan(node ?? parent);
    return { kind: "NamedType", name: { name: "", span: where }, span: where };
  }

  private statements(node: C.StatementBlockCstNode | undefined): A.Stmt[] {
    const out: A.Stmt[] = [];
    for (const s of node?.children.statement ?? []) {
      const stmt = this.statement(s);
      if (stmt) out.push(stmt);
    }
    return out;
  }

  private statement(node: C.StatementCstNode): A.Stmt | undefined {
    const c = node.children;
    const letNode = c.letStatement?.[0];
    if (letNode) {
      return { kind: "Let", name: this.bindingName(letNode.children.bindingName?.[0], letNode), value: this.expression(letNode.children.expression?.[0], letNode), span: this.nodeSpan(letNode) };
    }
    const assign = c.assignStatement?.[0];
    if (assign) {
      return { kind: "Assign", name: this.ident(assign.children.Identifier?.[0], assign), value: this.expression(assign.children.expression?.[0], assign), span: this.nodeSpan(assign) };
    }
    const rep = c.repeatStatement?.[0];
    if (rep) {
      return { kind: "Repeat", count: this.expression(rep.children.expression?.[0], rep), body: this.statements(rep.children.statementBlock?.[0]), span: this.nodeSpan(rep) };
    }
    const ret = c.returnStatement?.[0];
    if (ret) return { kind: "Return", value: this.expression(ret.children.expression?.[0], ret), span: this.nodeSpan(ret) };
    return undefined;
  }

  private connectionDecl(node: C.ConnectionDeclCstNode): A.ConnectionDecl {
    const c = node.children;
    return {
      kind: "Connection",
      name: this.ident(c.Identifier?.[0], node),
      params: this.params(c.paramList?.[0]),
      fields: this.fields(c.fieldBlock?.[0]),
      span: this.nodeSpan(node),
    };
  }

  private modelDecl(node: C.ModelDeclCstNode): A.ModelDecl {
    const c = node.children;
    return { kind: "Model", name: this.ident(c.Identifier?.[0], node), fields: this.fields(c.fieldBlock?.[0]), span: this.nodeSpan(node) };
  }

  private fields(node: C.FieldBlockCstNode | undefined): A.Field[] {
    const out: A.Field[] = [];
    for (const f of node?.children.field ?? []) {
      const block = f.children.blockField?.[0];
      if (block) {
        const sublayers: A.Sublayer[] = [];
        for (const s of block.children.sublayer ?? []) {
          const call = s.children.call?.[0];
          if (!call) continue;
          const withCall = s.children.connection?.[0];
          sublayers.push({
            kind: "Sublayer",
            call: this.callExpression(call),
            ...(withCall ? { connection: this.callExpression(withCall) } : {}),
            span: this.nodeSpan(s),
          });
        }
        const kw = block.children.KwBlock?.[0];
        out.push({ kind: "Block", sublayers, keywordSpan: kw ? this.tokenSpan(kw) : this.nodeSpan(block), span: this.nodeSpan(block) });
        continue;
      }
      const value = f.children.valueField?.[0];
      if (value) out.push(this.valueField(value));
    }
    return out;
  }

  private valueField(node: C.ValueFieldCstNode): A.ValueField {
    const c = node.children;
    const repeatToken = c.repeatValue?.[0];
    const value: A.Expr = repeatToken
      ? { kind: "Name", name: repeatToken.image, span: this.tokenSpan(repeatToken) }
      : this.expression(c.value?.[0], node);
    const initNode = c.init?.[0];
    const mode = this.mapMode(c.mapMode?.[0]);
    return {
      kind: "Field",
      name: this.ident(c.name?.[0], node),
      ...(mode ? { mode } : {}),
      value,
      ...(initNode ? { init: this.expression(initNode) } : {}),
      span: this.nodeSpan(node),
    };
  }

  private mapMode(node: C.MapModeCstNode | undefined): A.ValueField["mode"] {
    if (!node) return undefined;
    const c = node.children;
    if (c.KwStatic?.[0]) return { value: "static", span: this.nodeSpan(node) };
    if (c.KwDynamic?.[0]) return { value: c.tanh?.[0] ? "dynamic tanh" : "dynamic", span: this.nodeSpan(node) };
    return undefined;
  }

  // ---- expressions ----

  expression(node: C.ExpressionCstNode | undefined, parent?: CstNode): A.Expr {
    const additive = node?.children.additiveExpression?.[0];
    if (!node || !additive) return this.errorExpr(node ?? parent);
    return this.binaryChain(additive, (m) => this.binaryChain(m as C.MultiplicativeExpressionCstNode, (mm) => this.binaryChain(mm as C.MatmulExpressionCstNode, (u) => this.unary(u as C.UnaryExpressionCstNode))));
  }

  /** Folds `a op b op c` left-associatively, as every binary operator of the language is. */
  private binaryChain(
    node: { children: { operands?: CstNode[]; operators?: IToken[] } } & CstNode,
    operand: (n: CstNode) => A.Expr,
  ): A.Expr {
    const operands = node.children.operands ?? [];
    const operators = node.children.operators ?? [];
    const first = operands[0];
    let result = first ? operand(first) : this.errorExpr(node);
    for (let i = 0; i < operators.length; i++) {
      const op = operators[i]!;
      const rightNode = operands[i + 1];
      const right = rightNode ? operand(rightNode) : this.errorExpr(node);
      result = {
        kind: "Binary",
        op: op.image as A.BinaryOp,
        left: result,
        right,
        opSpan: this.tokenSpan(op),
        span: span(this.file, result.span.start, Math.max(right.span.end, op.endOffset === undefined ? op.startOffset + 1 : op.endOffset + 1)),
      };
    }
    return result;
  }

  private unary(node: C.UnaryExpressionCstNode): A.Expr {
    const c = node.children;
    const minus = c.Minus?.[0];
    const inner = c.unaryExpression?.[0];
    if (minus) {
      const operand = inner ? this.unary(inner) : this.errorExpr(node);
      return { kind: "Unary", op: "-", operand, span: span(this.file, minus.startOffset, Math.max(operand.span.end, minus.startOffset + 1)) };
    }
    const postfix = c.postfixExpression?.[0];
    return postfix ? this.postfix(postfix) : this.errorExpr(node);
  }

  private postfix(node: C.PostfixExpressionCstNode): A.Expr {
    const primaryNode = node.children.primaryExpression?.[0];
    let result = primaryNode ? this.primary(primaryNode) : this.errorExpr(node);
    for (const dot of node.children.DotT ?? []) {
      result = { kind: "Transpose", operand: result, span: span(this.file, result.span.start, dot.startOffset + dot.image.length) };
    }
    return result;
  }

  private primary(node: C.PrimaryExpressionCstNode): A.Expr {
    const c = node.children;
    const num = c.NumberLiteral?.[0];
    if (num) {
      const isInteger = /^\d+$/.test(num.image);
      return { kind: "Number", value: Number(num.image), text: num.image, isInteger, span: this.tokenSpan(num) };
    }
    if (c.KwTrue?.[0]) return { kind: "Bool", value: true, span: this.tokenSpan(c.KwTrue[0]) };
    if (c.KwFalse?.[0]) return { kind: "Bool", value: false, span: this.tokenSpan(c.KwFalse[0]) };
    const call = c.callExpression?.[0];
    if (call) return this.callExpression(call);
    const name = c.Identifier?.[0];
    if (name && !name.isInsertedInRecovery) return { kind: "Name", name: name.image, span: this.tokenSpan(name) };
    const paren = c.parenExpression?.[0];
    // The parentheses belong to the expression's span, so messages underline `(a + b)` whole.
    if (paren) return { ...this.expression(paren.children.expression?.[0], paren), span: this.nodeSpan(paren) };
    const list = c.listLiteral?.[0];
    if (list) return { kind: "List", items: this.listItems(list), span: this.nodeSpan(list) };
    return this.errorExpr(node);
  }

  callExpression(node: C.CallExpressionCstNode): A.CallExpr {
    const c = node.children;
    const args: A.Argument[] = (c.argument ?? []).map((a) => {
      const nameToken = a.children.name?.[0];
      const value = this.expression(a.children.expression?.[0], a);
      return {
        kind: "Argument",
        ...(nameToken ? { name: this.ident(nameToken, a) } : {}),
        value,
        span: this.nodeSpan(a),
      };
    });
    return { kind: "Call", callee: this.ident(c.Identifier?.[0], node), args, span: this.nodeSpan(node) };
  }

  private listItems(node: C.ListLiteralCstNode): A.Expr[] {
    return (node.children.expression ?? []).map((e) => this.expression(e, node));
  }

  private bindingName(node: C.BindingNameCstNode | undefined, parent: CstNode): A.Ident {
    const keyword = node?.children.Keyword?.[0];
    if (keyword && !keyword.isInsertedInRecovery) {
      const where = this.tokenSpan(keyword);
      this.diagnostics.push(makeDiagnostic(Diag.KeywordAsName, where, [keyword.image], { label: "reserved keyword", help: `pick another name, such as \`${keyword.image}_\`` }));
      return { name: keyword.image, span: where };
    }
    return this.ident(node?.children.Identifier?.[0], node ?? parent);
  }

  // ---- spans ----

  private ident(token: IToken | undefined, parent: CstNode): A.Ident {
    if (!token || token.isInsertedInRecovery || Number.isNaN(token.startOffset)) return { name: "", span: this.nodeSpan(parent) };
    return { name: token.image, span: this.tokenSpan(token) };
  }

  private errorExpr(node: CstNode | undefined): A.ErrorExpr {
    return { kind: "ErrorExpr", span: node ? this.nodeSpan(node) : span(this.file, 0, 0) };
  }

  private tokenSpan(token: IToken): Span {
    const start = Number.isNaN(token.startOffset) ? 0 : token.startOffset;
    return span(this.file, start, start + token.image.length);
  }

  private nodeSpan(node: CstNode): Span {
    const loc = node.location;
    const start = loc && !Number.isNaN(loc.startOffset) ? loc.startOffset : 0;
    const end = loc && loc.endOffset !== undefined && !Number.isNaN(loc.endOffset) ? loc.endOffset + 1 : start;
    return span(this.file, start, Math.max(start, end));
  }
}

/** Removes the quotes of a string literal and resolves `\"`, `\\`, `\n`, `\t`. */
function unquote(image: string): string {
  return image.slice(1, -1).replace(/\\(.)/g, (_, ch: string) => (ch === "n" ? "\n" : ch === "t" ? "\t" : ch));
}
