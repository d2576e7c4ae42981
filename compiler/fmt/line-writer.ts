interface Line {
  readonly content: string;
  readonly blankBefore: boolean;
  readonly depth: number;
  /** Own-line comments and items kept as written: they end an alignment group. */
  readonly multiLine: boolean;
  trailing?: string;
}

/** At least this many spaces between a line and its end-of-line comment. */
const COMMENT_GAP = 2;

/**
 * Collects the formatter's lines and lays out end-of-line comments: within a group
 * of consecutive lines at one depth (no blank line, no own-line comment between
 * them), every end-of-line comment starts in the same column, two spaces after the
 * longest line of the group that has one.
 */
export class LineWriter {
  private readonly lines: Line[] = [];

  hasLines(): boolean {
    return this.lines.length > 0;
  }

  line(content: string, options: { blankBefore: boolean; depth: number; multiLine: boolean }): void {
    this.lines.push({ content, ...options });
  }

  /** An end-of-line comment for the last line. */
  trailing(comment: string): void {
    const last = this.lines[this.lines.length - 1];
    if (!last) throw new Error("an end-of-line comment needs a line before it");
    last.trailing = comment;
  }

  toString(): string {
    const columns = this.alignmentColumns();
    const parts: string[] = [];
    this.lines.forEach((l, i) => {
      if (l.blankBefore) parts.push("");
      parts.push(l.trailing === undefined ? l.content : l.content + " ".repeat(Math.max(COMMENT_GAP, columns[i]! - lastLineLength(l.content))) + l.trailing);
    });
    return parts.length === 0 ? "" : parts.join("\n") + "\n";
  }

  private alignmentColumns(): number[] {
    const columns = new Array<number>(this.lines.length).fill(0);
    let group: number[] = [];
    const flush = () => {
      const width = Math.max(0, ...group.filter((i) => this.lines[i]!.trailing !== undefined).map((i) => lastLineLength(this.lines[i]!.content)));
      for (const i of group) columns[i] = width + COMMENT_GAP;
      group = [];
    };
    this.lines.forEach((l, i) => {
      const previous = this.lines[i - 1];
      const breaks = l.blankBefore || l.multiLine || l.content.includes("\n") || (previous !== undefined && previous.depth !== l.depth);
      if (breaks) flush();
      if (l.multiLine || l.content.includes("\n")) {
        // Kept as written: its comment goes right after it.
        columns[i] = lastLineLength(l.content) + COMMENT_GAP;
        return;
      }
      group.push(i);
    });
    flush();
    return columns;
  }
}

function lastLineLength(text: string): number {
  return text.length - (text.lastIndexOf("\n") + 1);
}
