import type { BlockField, CallExpr, Expr, ModelDecl } from "../../grammar/ast.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { didYouMean } from "../diagnostics/suggest.js";
import { bindArguments } from "./arguments.js";
import type { Activation, CheckedConnection, CheckedModel, CheckedSublayer, Collapse, Expand, SublayerKind } from "./checked.js";
import { asCall, type ConnectionChecker } from "./connections.js";
import { Env } from "./env.js";
import { Evaluator } from "./evaluate.js";
import { collectFields, enumValue, reportMissing } from "./fields.js";
import * as P from "./poly.js";
import type { FileScope } from "./symbols.js";
import { describe, ERROR, numberValue } from "./values.js";

const MODEL_FIELDS = ["vocab", "dim", "context", "layers", "connection", "expand", "collapse", "norm_eps", "tie_embeddings", "dropout"] as const;
const EXPANDS: readonly Expand[] = ["repeat", "learned"];
const COLLAPSES: readonly Collapse[] = ["gated", "sum", "mean", "first"];
const ACTIVATIONS: readonly Activation[] = ["gelu", "silu", "swiglu", "relu"];

export const MODEL_DEFAULTS = { expand: "repeat", collapse: "gated", normEps: 1e-6, tieEmbeddings: false, dropout: 0 } as const;

/** A sublayer argument: an integer, a boolean, or one name of a fixed set. */
type ArgKind = { readonly type: "int" } | { readonly type: "bool" } | { readonly type: "enum"; readonly choices: readonly string[]; readonly what: string };

interface SublayerParam {
  readonly name: string;
  readonly kind: ArgKind;
  /** Absent for required parameters; a function of the other arguments otherwise. */
  readonly default?: (args: Record<string, number | boolean | string>) => number | boolean | string;
}

const SUBLAYERS: Readonly<Record<SublayerKind, readonly SublayerParam[]>> = {
  attention: [
    { name: "heads", kind: { type: "int" } },
    { name: "kv_heads", kind: { type: "int" }, default: (a) => a["heads"] ?? 1 },
    { name: "causal", kind: { type: "bool" }, default: () => true },
  ],
  mlp: [
    { name: "hidden", kind: { type: "int" } },
    { name: "act", kind: { type: "enum", choices: ACTIVATIONS, what: "activation" }, default: () => "gelu" },
  ],
  identity: [],
};

/** Checks model declarations: fields, sublayers and the connections they use. */
export class ModelChecker {
  constructor(
    private readonly bag: DiagnosticBag,
    private readonly connections: ConnectionChecker,
  ) {}

  check(decl: ModelDecl, scope: FileScope): CheckedModel | undefined {
    const bag = this.bag;
    const where = `model \`${decl.name.name}\``;
    const fields = collectFields(decl.fields, [...MODEL_FIELDS, "block"], where, bag);
    const evaluator = new Evaluator(bag, { has: () => false, names: () => [], call: () => ERROR });
    const env = new Env();

    const required = [
      { name: "vocab", example: "vocab 256" },
      { name: "dim", example: "dim 128" },
      { name: "context", example: "context 128" },
      { name: "layers", example: "layers 4" },
      { name: "connection", example: "connection mhc(n = 4)" },
    ];
    reportMissing(required.filter((r) => !fields.has(r.name)), where, decl.name.span, bag);
    const positive = (name: string): number | undefined => {
      const field = fields.get(name);
      return field ? this.positiveInt(field.value, name, evaluator, env) : undefined;
    };
    const vocab = positive("vocab");
    const dim = positive("dim");
    const context = positive("context");
    const layers = positive("layers");

    const expandField = fields.get("expand");
    const expand = (expandField ? enumValue(expandField.value, EXPANDS, "expansion", bag) : MODEL_DEFAULTS.expand) as Expand | undefined;
    const collapseField = fields.get("collapse");
    const collapse = (collapseField ? enumValue(collapseField.value, COLLAPSES, "collapse", bag) : MODEL_DEFAULTS.collapse) as Collapse | undefined;
    const normEps = this.number(fields.get("norm_eps")?.value, "norm_eps", "positive", (x) => x > 0, evaluator, env) ?? MODEL_DEFAULTS.normEps;
    const dropout = this.number(fields.get("dropout")?.value, "dropout", "in [0, 1)", (x) => x >= 0 && x < 1, evaluator, env) ?? MODEL_DEFAULTS.dropout;
    const tieField = fields.get("tie_embeddings");
    let tieEmbeddings: boolean = MODEL_DEFAULTS.tieEmbeddings;
    if (tieField) {
      const v = evaluator.expr(tieField.value, env);
      if (v.kind === "bool" && v.value !== undefined) tieEmbeddings = v.value;
      else if (v.kind !== "error") bag.report(Diag.BadFieldValue, tieField.value.span, ["tie_embeddings", "`true` or `false`"], { label: `found ${describe(v)}` });
    }

    const connectionField = fields.get("connection");
    let connection: CheckedConnection | undefined;
    if (connectionField) connection = this.connections.resolveCall(connectionField.value, scope, `used by ${where} here`);

    const blocks = decl.fields.filter((f): f is BlockField => f.kind === "Block");
    for (const extra of blocks.slice(1)) bag.report(Diag.DuplicateField, extra.keywordSpan, ["block"], { label: "second `block`", secondary: [{ span: blocks[0]!.keywordSpan, message: "first `block` here" }] });
    const block = blocks[0];
    if (!block) bag.report(Diag.MissingBlock, decl.name.span, [decl.name.name], { label: "no `block`", help: "add `block { attention(heads = 4) mlp(hidden = 512) }`" });
    else if (block.sublayers.length === 0) bag.report(Diag.EmptyBlock, block.keywordSpan, [], { label: "empty block", help: "add sublayers such as `attention(heads = 4)` and `mlp(hidden = 512)`" });

    const sublayers: CheckedSublayer[] = [];
    let sublayersOk = true;
    for (const s of block?.sublayers ?? []) {
      const own = s.connection ? this.connections.resolveCall(s.connection, scope, `used by this sublayer`) : connection;
      const checked = this.sublayer(s.call, dim, evaluator, env);
      if (!checked || !own) {
        sublayersOk = false;
        continue;
      }
      // Every sublayer reads and writes the same residual streams.
      const mine = P.constantValue(own.streams);
      const model = connection ? P.constantValue(connection.streams) : undefined;
      if (s.connection && connectionField && mine !== undefined && model !== undefined && mine !== model) {
        bag.report(Diag.StreamMismatch, s.connection.span, [mine, model], {
          label: `${mine} streams`,
          secondary: [{ span: connectionField.value.span, message: `the model's streams: ${model}` }],
          help: s.connection.args.some((a) => a.name?.name === "n")
            ? `give this sublayer's connection ${model} streams: \`with ${s.connection.callee.name}(n = ${model})\``
            : `give this sublayer a connection with ${model} streams`,
        });
        sublayersOk = false;
        continue;
      }
      sublayers.push({ kind: checked.kind, args: checked.args, connection: own, span: s.span });
    }

    if (vocab === undefined || dim === undefined || context === undefined || layers === undefined || !connection || !expand || !collapse || !block || !sublayersOk || sublayers.length === 0) return undefined;
    return { decl, name: decl.name.name, vocab, dim, context, layers, connection, expand, collapse, normEps, tieEmbeddings, dropout, block: sublayers };
  }

  private positiveInt(value: Expr, name: string, evaluator: Evaluator, env: Env): number | undefined {
    const v = evaluator.expr(value, env);
    if (v.kind === "error") return undefined;
    const c = v.kind === "int" ? P.constantValue(v.value) : undefined;
    if (v.kind !== "int" || c === undefined) {
      this.bag.report(Diag.BadFieldValue, value.span, [name, "a positive integer"], { label: `found ${describe(v)}` });
      return undefined;
    }
    if (c < 1) {
      this.bag.report(Diag.FieldRange, value.span, [name, "at least 1", String(c)], { label: "too small" });
      return undefined;
    }
    return c;
  }

  private number(value: Expr | undefined, name: string, rule: string, ok: (x: number) => boolean, evaluator: Evaluator, env: Env): number | undefined {
    if (!value) return undefined;
    const v = evaluator.expr(value, env);
    const x = numberValue(v);
    if (v.kind === "error") return undefined;
    if (x === undefined) {
      this.bag.report(Diag.BadFieldValue, value.span, [name, "a number"], { label: `found ${describe(v)}` });
      return undefined;
    }
    if (!ok(x)) {
      this.bag.report(Diag.FieldRange, value.span, [name, rule, String(x)], { label: "out of range" });
      return undefined;
    }
    return x;
  }

  private sublayer(call: CallExpr, dim: number | undefined, evaluator: Evaluator, env: Env): { kind: SublayerKind; args: Record<string, number | boolean | string> } | undefined {
    const kinds = Object.keys(SUBLAYERS) as SublayerKind[];
    const kind = kinds.find((k) => k === call.callee.name);
    if (!kind) {
      const help = didYouMean(call.callee.name, kinds);
      this.bag.report(Diag.UnknownSublayer, call.callee.span, [call.callee.name], { label: "not a sublayer", ...(help ? { help } : { notes: [`sublayers are ${kinds.map((k) => `\`${k}\``).join(", ")}`] }) });
      return undefined;
    }
    const params = SUBLAYERS[kind];
    const bound = bindArguments(call, params.map((p) => ({ name: p.name, optional: p.default !== undefined })), this.bag);
    const args: Record<string, number | boolean | string> = {};
    let ok = bound.size >= params.filter((p) => !p.default).length;
    for (const p of params) {
      const arg = bound.get(p.name);
      if (!arg) continue;
      const value = this.sublayerArg(arg.value, p, evaluator, env);
      if (value === undefined) ok = false;
      else args[p.name] = value;
    }
    if (!ok) return undefined;
    for (const p of params) if (args[p.name] === undefined && p.default) args[p.name] = p.default(args);
    if (kind === "attention") {
      const heads = args["heads"] as number;
      const kvHeads = args["kv_heads"] as number;
      const headsArg = bound.get("heads")!.value.span;
      if (dim !== undefined && dim % heads !== 0) {
        this.bag.report(Diag.HeadsDivide, headsArg, [dim, heads], { label: `${dim} is not a multiple of ${heads}` });
        return undefined;
      }
      if (heads % kvHeads !== 0) {
        this.bag.report(Diag.KvHeadsDivide, bound.get("kv_heads")?.value.span ?? headsArg, [heads, kvHeads], { label: `${heads} is not a multiple of ${kvHeads}` });
        return undefined;
      }
    }
    return { kind, args };
  }

  private sublayerArg(value: Expr, param: SublayerParam, evaluator: Evaluator, env: Env): number | boolean | string | undefined {
    if (param.kind.type === "enum") return enumValue(value, param.kind.choices, param.kind.what, this.bag);
    if (param.kind.type === "int") return this.positiveInt(value, param.name, evaluator, env);
    const v = evaluator.expr(value, env);
    if (v.kind === "bool" && v.value !== undefined) return v.value;
    if (v.kind !== "error") this.bag.report(Diag.TypeMismatch, value.span, [`\`bool\` for \`${param.name}\``, describe(v)]);
    return undefined;
  }
}

export { asCall };
