/**
 * A small writer for Graphviz DOT text. Output is deterministic: statements come
 * out in the order they were added, and identifiers are generated in that order.
 */
export interface NodeStyle {
  readonly shape?: "box" | "ellipse" | "parallelogram" | "note" | "plaintext";
  readonly fill?: string;
  readonly bold?: boolean;
}

export class DotWriter {
  private readonly lines: string[] = [];
  /** Edges go after every node, at the top level: an edge written inside a cluster would pull its ends into it. */
  private readonly edges: string[] = [];
  private depth = 1;
  private nextId = 0;

  constructor(
    private readonly name: string,
    private readonly title: string,
  ) {}

  /** Adds a node and returns its identifier. Label lines are joined with line breaks. */
  node(label: readonly string[], style: NodeStyle = {}): string {
    const id = `n${this.nextId++}`;
    const attrs = [`label=${quote(label.join("\n"))}`];
    if (style.shape) attrs.push(`shape=${style.shape}`);
    if (style.fill) attrs.push(`fillcolor=${quote(style.fill)}`);
    if (style.bold) attrs.push(`penwidth=2`);
    this.emit(`${id} [${attrs.join(", ")}];`);
    return id;
  }

  edge(from: string, to: string, label?: string, options: { dashed?: boolean; heavy?: boolean } = {}): void {
    const attrs: string[] = [];
    if (label !== undefined) attrs.push(`label=${quote(label)}`);
    if (options.dashed) attrs.push("style=dashed");
    if (options.heavy) attrs.push("penwidth=3");
    this.edges.push(`  ${from} -> ${to}${attrs.length > 0 ? ` [${attrs.join(", ")}]` : ""};`);
  }

  /** A labelled box around the nodes that `body` adds. */
  cluster(label: string, fill: string, body: () => void): void {
    this.emit(`subgraph cluster_${this.nextId++} {`);
    this.depth++;
    this.emit(`label=${quote(label)}; style="rounded,filled"; fillcolor=${quote(fill)}; color="#888888"; fontname="Helvetica-Bold";`);
    body();
    this.depth--;
    this.emit("}");
  }

  toString(): string {
    return [
      `digraph ${this.name} {`,
      `  label=${quote(this.title)}; labelloc=t; fontname="Helvetica"; fontsize=16;`,
      `  rankdir=TB; nodesep=0.3; ranksep=0.35; pad=0.4;`,
      `  node [shape=box, style="rounded,filled", fillcolor="white", fontname="Helvetica", fontsize=11, margin="0.25,0.08"];`,
      `  edge [fontname="Helvetica", fontsize=9, color="#444444"];`,
      ...this.lines,
      ...this.edges,
      "}",
      "",
    ].join("\n");
  }

  private emit(statement: string): void {
    this.lines.push("  ".repeat(this.depth) + statement);
  }
}

/** A number as people write it in `.mhc` files: `1e-6`, `0.01`, `20`. */
export function formatNumber(x: number): string {
  return x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x);
}

/** `iters = 20, eps = 1e-6`: compile-time arguments as written in a call. */
export function formatArgs(args: readonly (readonly [string, number | boolean])[]): string {
  return args.map(([k, v]) => `${k} = ${typeof v === "number" ? formatNumber(v) : String(v)}`).join(", ");
}

/** A DOT double-quoted string; line breaks become centred `\n` breaks. */
export function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}
