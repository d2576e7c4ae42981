// Generated from grammar/parser.ts by scripts/gen-cst-dts.ts. Do not edit.
import type { CstNode, ICstVisitor, IToken } from "chevrotain";

export interface DeclarationCstNode extends CstNode {
  name: "declaration";
  children: DeclarationCstChildren;
}

export type DeclarationCstChildren = {
  importDecl?: ImportDeclCstNode[];
  constraintDecl?: ConstraintDeclCstNode[];
  connectionDecl?: ConnectionDeclCstNode[];
  modelDecl?: ModelDeclCstNode[];
};

export interface ImportDeclCstNode extends CstNode {
  name: "importDecl";
  children: ImportDeclCstChildren;
}

export type ImportDeclCstChildren = {
  KwImport: IToken[];
  StringLiteral: IToken[];
};

export interface ConstraintDeclCstNode extends CstNode {
  name: "constraintDecl";
  children: ConstraintDeclCstChildren;
}

export type ConstraintDeclCstChildren = {
  KwConstraint: IToken[];
  Identifier: IToken[];
  paramList: ParamListCstNode[];
  Arrow: IToken[];
  typeExpr: TypeExprCstNode[];
  statementBlock: StatementBlockCstNode[];
};

export interface ParamListCstNode extends CstNode {
  name: "paramList";
  children: ParamListCstChildren;
}

export type ParamListCstChildren = {
  LParen: IToken[];
  param?: ParamCstNode[];
  Comma?: IToken[];
  RParen: IToken[];
};

export interface ParamCstNode extends CstNode {
  name: "param";
  children: ParamCstChildren;
}

export type ParamCstChildren = {
  bindingName: BindingNameCstNode[];
  Colon: IToken[];
  typeExpr: TypeExprCstNode[];
  Equals?: IToken[];
  expression?: ExpressionCstNode[];
};

export interface BindingNameCstNode extends CstNode {
  name: "bindingName";
  children: BindingNameCstChildren;
}

export type BindingNameCstChildren = {
  Identifier?: IToken[];
  Keyword?: IToken[];
};

export interface TypeExprCstNode extends CstNode {
  name: "typeExpr";
  children: TypeExprCstChildren;
}

export type TypeExprCstChildren = {
  Identifier?: IToken[];
  listLiteral?: ListLiteralCstNode[];
};

export interface StatementBlockCstNode extends CstNode {
  name: "statementBlock";
  children: StatementBlockCstChildren;
}

export type StatementBlockCstChildren = {
  LBrace: IToken[];
  statement?: StatementCstNode[];
  RBrace: IToken[];
};

export interface StatementCstNode extends CstNode {
  name: "statement";
  children: StatementCstChildren;
}

export type StatementCstChildren = {
  letStatement?: LetStatementCstNode[];
  assignStatement?: AssignStatementCstNode[];
  repeatStatement?: RepeatStatementCstNode[];
  returnStatement?: ReturnStatementCstNode[];
};

export interface LetStatementCstNode extends CstNode {
  name: "letStatement";
  children: LetStatementCstChildren;
}

export type LetStatementCstChildren = {
  KwLet: IToken[];
  bindingName: BindingNameCstNode[];
  Equals: IToken[];
  expression: ExpressionCstNode[];
};

export interface AssignStatementCstNode extends CstNode {
  name: "assignStatement";
  children: AssignStatementCstChildren;
}

export type AssignStatementCstChildren = {
  Identifier: IToken[];
  Equals: IToken[];
  expression: ExpressionCstNode[];
};

export interface RepeatStatementCstNode extends CstNode {
  name: "repeatStatement";
  children: RepeatStatementCstChildren;
}

export type RepeatStatementCstChildren = {
  KwRepeat: IToken[];
  expression: ExpressionCstNode[];
  statementBlock: StatementBlockCstNode[];
};

export interface ReturnStatementCstNode extends CstNode {
  name: "returnStatement";
  children: ReturnStatementCstChildren;
}

export type ReturnStatementCstChildren = {
  KwReturn: IToken[];
  expression: ExpressionCstNode[];
};

export interface ConnectionDeclCstNode extends CstNode {
  name: "connectionDecl";
  children: ConnectionDeclCstChildren;
}

export type ConnectionDeclCstChildren = {
  KwConnection: IToken[];
  Identifier: IToken[];
  paramList?: ParamListCstNode[];
  fieldBlock: FieldBlockCstNode[];
};

export interface ModelDeclCstNode extends CstNode {
  name: "modelDecl";
  children: ModelDeclCstChildren;
}

export type ModelDeclCstChildren = {
  KwModel: IToken[];
  Identifier: IToken[];
  fieldBlock: FieldBlockCstNode[];
};

export interface FieldBlockCstNode extends CstNode {
  name: "fieldBlock";
  children: FieldBlockCstChildren;
}

export type FieldBlockCstChildren = {
  LBrace: IToken[];
  field?: FieldCstNode[];
  RBrace: IToken[];
};

export interface FieldCstNode extends CstNode {
  name: "field";
  children: FieldCstChildren;
}

export type FieldCstChildren = {
  blockField?: BlockFieldCstNode[];
  valueField?: ValueFieldCstNode[];
};

export interface BlockFieldCstNode extends CstNode {
  name: "blockField";
  children: BlockFieldCstChildren;
}

export type BlockFieldCstChildren = {
  KwBlock: IToken[];
  LBrace: IToken[];
  sublayer?: SublayerCstNode[];
  RBrace: IToken[];
};

export interface SublayerCstNode extends CstNode {
  name: "sublayer";
  children: SublayerCstChildren;
}

export type SublayerCstChildren = {
  call: CallExpressionCstNode[];
  KwWith?: IToken[];
  connection?: CallExpressionCstNode[];
};

export interface ValueFieldCstNode extends CstNode {
  name: "valueField";
  children: ValueFieldCstChildren;
}

export type ValueFieldCstChildren = {
  name?: (IToken)[];
  mapMode?: MapModeCstNode[];
  repeatValue?: IToken[];
  value?: ExpressionCstNode[];
  KwInit?: IToken[];
  init?: ExpressionCstNode[];
};

export interface MapModeCstNode extends CstNode {
  name: "mapMode";
  children: MapModeCstChildren;
}

export type MapModeCstChildren = {
  KwStatic?: IToken[];
  KwDynamic?: IToken[];
  tanh?: IToken[];
};

export interface ExpressionCstNode extends CstNode {
  name: "expression";
  children: ExpressionCstChildren;
}

export type ExpressionCstChildren = {
  additiveExpression: AdditiveExpressionCstNode[];
};

export interface AdditiveExpressionCstNode extends CstNode {
  name: "additiveExpression";
  children: AdditiveExpressionCstChildren;
}

export type AdditiveExpressionCstChildren = {
  operands: (MultiplicativeExpressionCstNode)[];
  operators?: IToken[];
};

export interface MultiplicativeExpressionCstNode extends CstNode {
  name: "multiplicativeExpression";
  children: MultiplicativeExpressionCstChildren;
}

export type MultiplicativeExpressionCstChildren = {
  operands: (MatmulExpressionCstNode)[];
  operators?: IToken[];
};

export interface MatmulExpressionCstNode extends CstNode {
  name: "matmulExpression";
  children: MatmulExpressionCstChildren;
}

export type MatmulExpressionCstChildren = {
  operands: (UnaryExpressionCstNode)[];
  operators?: IToken[];
};

export interface UnaryExpressionCstNode extends CstNode {
  name: "unaryExpression";
  children: UnaryExpressionCstChildren;
}

export type UnaryExpressionCstChildren = {
  Minus?: IToken[];
  unaryExpression?: UnaryExpressionCstNode[];
  postfixExpression?: PostfixExpressionCstNode[];
};

export interface PostfixExpressionCstNode extends CstNode {
  name: "postfixExpression";
  children: PostfixExpressionCstChildren;
}

export type PostfixExpressionCstChildren = {
  primaryExpression: PrimaryExpressionCstNode[];
  DotT?: IToken[];
};

export interface PrimaryExpressionCstNode extends CstNode {
  name: "primaryExpression";
  children: PrimaryExpressionCstChildren;
}

export type PrimaryExpressionCstChildren = {
  NumberLiteral?: IToken[];
  KwTrue?: IToken[];
  KwFalse?: IToken[];
  callExpression?: CallExpressionCstNode[];
  Identifier?: IToken[];
  parenExpression?: ParenExpressionCstNode[];
  listLiteral?: ListLiteralCstNode[];
};

export interface CallExpressionCstNode extends CstNode {
  name: "callExpression";
  children: CallExpressionCstChildren;
}

export type CallExpressionCstChildren = {
  Identifier: IToken[];
  LParen: IToken[];
  argument?: ArgumentCstNode[];
  Comma?: IToken[];
  RParen: IToken[];
};

export interface ArgumentCstNode extends CstNode {
  name: "argument";
  children: ArgumentCstChildren;
}

export type ArgumentCstChildren = {
  name?: IToken[];
  Equals?: IToken[];
  expression: ExpressionCstNode[];
};

export interface ParenExpressionCstNode extends CstNode {
  name: "parenExpression";
  children: ParenExpressionCstChildren;
}

export type ParenExpressionCstChildren = {
  LParen: IToken[];
  expression: ExpressionCstNode[];
  RParen: IToken[];
};

export interface ListLiteralCstNode extends CstNode {
  name: "listLiteral";
  children: ListLiteralCstChildren;
}

export type ListLiteralCstChildren = {
  LBracket: IToken[];
  expression?: ExpressionCstNode[];
  Comma?: IToken[];
  RBracket: IToken[];
};

export interface MhcCstVisitor<IN, OUT> extends ICstVisitor<IN, OUT> {
  declaration(children: DeclarationCstChildren, param?: IN): OUT;
  importDecl(children: ImportDeclCstChildren, param?: IN): OUT;
  constraintDecl(children: ConstraintDeclCstChildren, param?: IN): OUT;
  paramList(children: ParamListCstChildren, param?: IN): OUT;
  param(children: ParamCstChildren, param?: IN): OUT;
  bindingName(children: BindingNameCstChildren, param?: IN): OUT;
  typeExpr(children: TypeExprCstChildren, param?: IN): OUT;
  statementBlock(children: StatementBlockCstChildren, param?: IN): OUT;
  statement(children: StatementCstChildren, param?: IN): OUT;
  letStatement(children: LetStatementCstChildren, param?: IN): OUT;
  assignStatement(children: AssignStatementCstChildren, param?: IN): OUT;
  repeatStatement(children: RepeatStatementCstChildren, param?: IN): OUT;
  returnStatement(children: ReturnStatementCstChildren, param?: IN): OUT;
  connectionDecl(children: ConnectionDeclCstChildren, param?: IN): OUT;
  modelDecl(children: ModelDeclCstChildren, param?: IN): OUT;
  fieldBlock(children: FieldBlockCstChildren, param?: IN): OUT;
  field(children: FieldCstChildren, param?: IN): OUT;
  blockField(children: BlockFieldCstChildren, param?: IN): OUT;
  sublayer(children: SublayerCstChildren, param?: IN): OUT;
  valueField(children: ValueFieldCstChildren, param?: IN): OUT;
  mapMode(children: MapModeCstChildren, param?: IN): OUT;
  expression(children: ExpressionCstChildren, param?: IN): OUT;
  additiveExpression(children: AdditiveExpressionCstChildren, param?: IN): OUT;
  multiplicativeExpression(children: MultiplicativeExpressionCstChildren, param?: IN): OUT;
  matmulExpression(children: MatmulExpressionCstChildren, param?: IN): OUT;
  unaryExpression(children: UnaryExpressionCstChildren, param?: IN): OUT;
  postfixExpression(children: PostfixExpressionCstChildren, param?: IN): OUT;
  primaryExpression(children: PrimaryExpressionCstChildren, param?: IN): OUT;
  callExpression(children: CallExpressionCstChildren, param?: IN): OUT;
  argument(children: ArgumentCstChildren, param?: IN): OUT;
  parenExpression(children: ParenExpressionCstChildren, param?: IN): OUT;
  listLiteral(children: ListLiteralCstChildren, param?: IN): OUT;
}
