import type { Span } from "../source/span.js";
import type { DType } from "./dtype.js";
import { IrError } from "./errors.js";
import { Graph } from "./graph.js";
import type { Attrs, AttrValue, Node, RawGraph, RawNode } from "./node.js";
import type { OpName } from "./op-names.js";
import { canonicalDim, type Dim } from "./shape.js";

// Textual IR -> graph, in two layers: `parseRawGraph` reads the syntax only (so the
// verifier can be tested on malformed IR written as text), `parseGraph` then rebuilds
// it through the validating factory.

type TokenKind = "ref" | "ident" | "number" | "string" | "punct";
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

const TOKEN = /\s*(?:(%\d+)|(-?inf\b|nan\b|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|("(?:[^"\\]|\\.)*")|([=(){}[\],:*]))/y;

function tokenize(line: string, lineNo: number): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < line.length) {
    if (/^\s*$/.test(line.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(line);
    if (!m) throw new IrError(`line ${lineNo}: unexpected character at column ${at + 1}: ${line.slice(at).trim()}`);
    if (m[1]) tokens.push({ kind: "ref", text: m[1] });
    else if (m[2]) tokens.push({ kind: "number", text: m[2] });
    else if (m[3]) tokens.push({ kind: "ident", text: m[3] });
    else if (m[4]) tokens.push({ kind: "string", text: m[4] });
    else tokens.push({ kind: "punct", text: m[5] as string });
  }
  return tokens;
}

function parseNumber(text: string): number {
  if (text === "nan") return NaN;
  if (text === "inf") return Infinity;
  if (text === "-inf") return -Infinity;
  return Number(text);
}

class LineReader {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly lineNo: number,
  ) {}

  fail(message: string): never {
    throw new IrError(`line ${this.lineNo}: ${message}`);
  }
  peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }
  next(kind: TokenKind, text?: string): string {
    const t = this.tokens[this.pos];
    if (!t || t.kind !== kind || (text !== undefined && t.text !== text)) {
      this.fail(`expected ${text ? `"${text}"` : kind}, found ${t ? `"${t.text}"` : "end of line"}`);
    }
    this.pos++;
    return t.text;
  }
  accept(text: string): boolean {
    const t = this.tokens[this.pos];
    if (t && t.kind === "punct" && t.text === text) {
      this.pos++;
      return true;
    }
    return false;
  }
  /** Items separated by commas up to `close` (already past the opening bracket). */
  list<T>(close: string, item: () => T): T[] {
    const items: T[] = [];
    if (this.accept(close)) return items;
    do items.push(item());
    while (this.accept(","));
    this.next("punct", close);
    return items;
  }
}

function readAttrValue(r: LineReader): AttrValue {
  const t = r.peek();
  if (!t) return r.fail("expected an attribute value");
  if (t.kind === "number") return parseNumber(r.next("number"));
  if (t.kind === "string") return JSON.parse(r.next("string")) as string;
  if (t.kind === "ident" && (t.text === "true" || t.text === "false")) return r.next("ident") === "true";
  if (r.accept("[")) return r.list("]", () => parseNumber(r.next("number")));
  return r.fail(`unexpected "${t.text}" in attribute value`);
}

function readDim(r: LineReader): Dim {
  const factors: string[] = [];
  do {
    const t = r.peek();
    factors.push(t?.kind === "number" ? r.next("number") : r.next("ident"));
  } while (r.accept("*"));
  try {
    return canonicalDim(factors.length === 1 && /^\d+$/.test(factors[0] as string) ? Number(factors[0]) : factors.join("*"));
  } catch (e) {
    return r.fail(e instanceof Error ? e.message : String(e));
  }
}

interface PendingNode {
  node: { id: number; op: string; inputs: RawNode[]; attrs: Attrs; shape: Dim[]; dtype: string; span?: Span };
  inputIds: number[];
  line: number;
}

/** Reads textual IR without validating it. Lines starting with `//` are comments. */
export function parseRawGraph(text: string): RawGraph {
  const pending: PendingNode[] = [];
  const byId = new Map<number, RawNode>();
  const outputs: { name: string; id: number; line: number }[] = [];

  text.split("\n").forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) return;
    const r = new LineReader(tokenize(line, lineNo), lineNo);
    if (r.peek()?.kind === "ident" && r.peek()?.text === "output") {
      r.next("ident");
      const name = JSON.parse(r.next("string")) as string;
      r.next("punct", "=");
      outputs.push({ name, id: Number(r.next("ref").slice(1)), line: lineNo });
      if (!r.atEnd()) r.fail("unexpected text after output");
      return;
    }
    const id = Number(r.next("ref").slice(1));
    r.next("punct", "=");
    const op = r.next("ident");
    r.next("punct", "(");
    const inputIds = r.list(")", () => Number(r.next("ref").slice(1)));
    const attrs: Record<string, AttrValue> = {};
    if (r.accept("{")) {
      r.list("}", () => {
        const key = r.next("ident");
        r.next("punct", "=");
        if (key in attrs) r.fail(`attribute "${key}" given twice`);
        attrs[key] = readAttrValue(r);
      });
    }
    r.next("punct", ":");
    const dtype = r.next("ident");
    r.next("punct", "[");
    const shape = r.list("]", () => readDim(r));
    let span: Span | undefined;
    if (!r.atEnd()) {
      r.next("ident", "loc");
      r.next("punct", "(");
      const file = JSON.parse(r.next("string")) as string;
      r.next("punct", ",");
      const start = Number(r.next("number"));
      r.next("punct", ",");
      const end = Number(r.next("number"));
      r.next("punct", ")");
      span = { file, start, end };
      if (!r.atEnd()) r.fail("unexpected text after the type");
    }
    if (byId.has(id)) r.fail(`%${id} is defined twice`);
    const node = { id, op, inputs: [] as RawNode[], attrs, shape, dtype, ...(span ? { span } : {}) };
    byId.set(id, node);
    pending.push({ node, inputIds, line: lineNo });
  });

  // References are resolved after every line is read, so a use before its definition
  // reaches the verifier as such; an id defined nowhere becomes a placeholder node that
  // is not part of the graph.
  const resolve = (id: number): RawNode => byId.get(id) ?? { id, op: "<undefined>", inputs: [], attrs: {}, shape: [], dtype: "f64" };
  for (const p of pending) p.node.inputs = p.inputIds.map(resolve);
  return {
    nodes: pending.map((p) => p.node),
    outputs: outputs.map((o) => ({ name: o.name, node: resolve(o.id) })),
  };
}

/** Rebuilds a raw graph through the validating factory (ids are renumbered in order). */
export function graphFromRaw(raw: RawGraph): Graph {
  const graph = new Graph();
  const mapped = new Map<RawNode, Node>();
  for (const r of raw.nodes) {
    const inputs = r.inputs.map((i) => {
      const m = mapped.get(i);
      if (!m) throw new IrError(`%${r.id} uses %${i.id} before it is defined`);
      return m;
    });
    try {
      const node = graph.node(r.op as OpName, inputs, r.attrs, { shape: r.shape, dtype: r.dtype as DType, ...(r.span ? { span: r.span } : {}) });
      mapped.set(r, node);
    } catch (e) {
      throw e instanceof IrError ? new IrError(`%${r.id}: ${e.message}`) : e;
    }
  }
  for (const o of raw.outputs) {
    const node = mapped.get(o.node);
    if (!node) throw new IrError(`output "${o.name}" refers to undefined %${o.node.id}`);
    graph.output(o.name, node);
  }
  return graph;
}

/** Textual IR -> validated graph; throws IrError with a line number or node id. */
export function parseGraph(text: string): Graph {
  return graphFromRaw(parseRawGraph(text));
}
