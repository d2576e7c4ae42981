import type { Span } from "../compiler/source/span.js";

/*
 * The typed AST of a `.mhc` file: discriminated unions on `kind`, every node
 * carries the span of the source text it came from. Nodes the parser had to
 * invent while recovering from a syntax error are `ErrorExpr`; later phases
 * stay quiet about them (the syntax error was already reported).
 */

export interface Ident {
  readonly name: string;
  readonly span: Span;
}

// ---- expressions ----------------------------------------------------------

export interface NumberExpr {
  readonly kind: "Number";
  readonly value: number;
  /** The literal as written; `20` is an integer, `20.` and `2e1` are floats. */
  readonly text: string;
  readonly isInteger: boolean;
  readonly span: Span;
}

export interface BoolExpr {
  readonly kind: "Bool";
  readonly value: boolean;
  readonly span: Span;
}

export interface NameExpr {
  readonly kind: "Name";
  readonly name: string;
  readonly span: Span;
}

export interface Argument {
  readonly kind: "Argument";
  /** Present for `name = value` arguments. */
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface CallExpr {
  readonly kind: "Call";
  readonly callee: Ident;
  readonly args: readonly Argument[];
  readonly span: Span;
}

export interface UnaryExpr {
  readonly kind: "Unary";
  readonly op: "-";
  readonly operand: Expr;
  readonly span: Span;
}

export type BinaryOp = "+" | "-" | "*" | "/" | "@";

export interface BinaryExpr {
  readonly kind: "Binary";
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  readonly opSpan: Span;
  readonly span: Span;
}

export interface TransposeExpr {
  readonly kind: "Transpose";
  readonly operand: Expr;
  readonly span: Span;
}

/** `[a, b]`: a shape or a list of compile-time values. */
export interface ListExpr {
  readonly kind: "List";
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** Stands where the parser recovered from a syntax error. */
export interface ErrorExpr {
  readonly kind: "ErrorExpr";
  readonly span: Span;
}

export type Expr = NumberExpr | BoolExpr | NameExpr | CallExpr | UnaryExpr | BinaryExpr | TransposeExpr | ListExpr | ErrorExpr;

// ---- constraint bodies ------------------------------------------------------

export interface LetStmt {
  readonly kind: "Let";
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface AssignStmt {
  readonly kind: "Assign";
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface RepeatStmt {
  readonly kind: "Repeat";
  readonly count: Expr;
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export interface ReturnStmt {
  readonly kind: "Return";
  readonly value: Expr;
  readonly span: Span;
}

export type Stmt = LetStmt | AssignStmt | RepeatStmt | ReturnStmt;

// ---- declarations -----------------------------------------------------------

/** `int`, `float`, `bool`, `tensor`: a type written as a name. */
export interface NamedType {
  readonly kind: "NamedType";
  readonly name: Ident;
  readonly span: Span;
}

/** `[n, n]`, `[fact(n)]`: a tensor type written as its shape. */
export interface ShapeType {
  readonly kind: "ShapeType";
  readonly dims: readonly Expr[];
  readonly span: Span;
}

export type TypeRef = NamedType | ShapeType;

export interface Param {
  readonly kind: "Param";
  readonly name: Ident;
  readonly type: TypeRef;
  readonly default?: Expr;
  readonly span: Span;
}

export interface ImportDecl {
  readonly kind: "Import";
  /** The path with its quotes removed and escapes resolved. */
  readonly path: string;
  readonly pathSpan: Span;
  readonly span: Span;
}

export interface ConstraintDecl {
  readonly kind: "Constraint";
  /** The declaration had a syntax error: checks that need the whole body (a missing `return`) stay quiet. */
  readonly recovered?: boolean;
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly result: TypeRef;
  readonly body: readonly Stmt[];
  readonly span: Span;
}

export type MapMode = "static" | "dynamic" | "dynamic tanh";

/** `name [static|dynamic [tanh]] value [init expr]`: every field of a connection or model. */
export interface ValueField {
  readonly kind: "Field";
  readonly name: Ident;
  readonly mode?: { readonly value: MapMode; readonly span: Span };
  readonly value: Expr;
  readonly init?: Expr;
  readonly span: Span;
}

export interface Sublayer {
  readonly kind: "Sublayer";
  readonly call: CallExpr;
  /** `... with hc(n = 4)`: this sublayer's own connection. */
  readonly connection?: CallExpr;
  readonly span: Span;
}

export interface BlockField {
  readonly kind: "Block";
  readonly sublayers: readonly Sublayer[];
  /** The `block` keyword, for messages about the block as a whole. */
  readonly keywordSpan: Span;
  readonly span: Span;
}

export type Field = ValueField | BlockField;

export interface ConnectionDecl {
  readonly kind: "Connection";
  readonly name: Ident;
  readonly params: readonly Param[];
  readonly fields: readonly Field[];
  readonly span: Span;
}

export interface ModelDecl {
  readonly kind: "Model";
  readonly name: Ident;
  readonly fields: readonly Field[];
  readonly span: Span;
}

export type Decl = ImportDecl | ConstraintDecl | ConnectionDecl | ModelDecl;

export interface Comment {
  readonly text: string;
  readonly span: Span;
}

export interface FileAst {
  readonly kind: "File";
  readonly file: string;
  readonly decls: readonly Decl[];
  readonly comments: readonly Comment[];
  readonly span: Span;
}

export type AstNode = FileAst | Decl | Param | TypeRef | Stmt | Expr | Argument | Field | Sublayer;
