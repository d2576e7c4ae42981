import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../package-root.js";
import { colors } from "./render.js";

/**
 * `mhc explain CODE`: the long form of a diagnostic, one markdown file per code
 * in `compiler/diagnostics/explain/`. The files are read at run time from the
 * package root (they are not compiled into `dist/`), so the same lookup works
 * from the sources and from the built CLI.
 */
export const EXPLAIN_DIR = join("compiler", "diagnostics", "explain");

const CODE_PATTERN = /^MHC\d{4}$/;

export function explainDirectory(): string {
  return join(packageRoot(), EXPLAIN_DIR);
}

/** The raw markdown for `code` (any case), or undefined for an unknown code. */
export function explainMarkdown(code: string): string | undefined {
  const wanted = code.trim().toUpperCase();
  // The pattern also keeps user input from naming any other file.
  if (!CODE_PATTERN.test(wanted)) return undefined;
  const file = join(explainDirectory(), `${wanted}.md`);
  return existsSync(file) ? readFileSync(file, "utf8") : undefined;
}

export interface ExplainOptions {
  /** Render for a colour terminal; otherwise the markdown is returned as written. */
  readonly color?: boolean;
}

/** The explanation of `code` (`MHC3002` or `mhc3002`), or undefined for an unknown code. */
export function explain(code: string, options: ExplainOptions = {}): string | undefined {
  const markdown = explainMarkdown(code);
  if (markdown === undefined) return undefined;
  return options.color ? renderMarkdown(markdown) : markdown;
}

/** Codes that have an explanation, sorted. */
export function explainedCodes(): string[] {
  return readdirSync(explainDirectory())
    .filter((name) => name.endsWith(".md"))
    .map((name) => name.slice(0, -3))
    .sort();
}

/**
 * Light terminal rendering: headings bold without their `#`, fenced code
 * blocks indented by four spaces without their fences, everything else as
 * written (the texts are short and plain, so more would only add surprises).
 */
export function renderMarkdown(markdown: string): string {
  const c = colors(true);
  const out: string[] = [];
  let inCode = false;
  for (const line of markdown.replace(/\r\n?/g, "\n").split("\n")) {
    if (/^\s*```/.test(line)) {
      inCode = !inCode;
      continue;
    }
    if (inCode) out.push(line === "" ? "" : `    ${c.cyan(line)}`);
    else {
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      out.push(heading ? c.bold(heading[1]!) : line);
    }
  }
  return out.join("\n");
}
