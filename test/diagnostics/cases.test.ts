import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Diagnostic } from "../../compiler/diagnostics/diagnostic.js";
import { allMessages } from "../../compiler/diagnostics/messages.js";
import { renderDiagnostics, renderSummary } from "../../compiler/diagnostics/render.js";
import { checkFiles, type CheckResult } from "../../compiler/driver.js";

/**
 * Diagnostics baselines, one small bad program per way of hitting each code
 * (design.md §2.5; TypeScript's `.errors.txt`, style-anchors §10 and §15.6).
 *
 * A case is `cases/MHCxxxx-slug.mhc`, or a folder `cases/MHCxxxx-slug/` whose
 * entry is `main.mhc`. Its leading `//` comments are its header:
 *
 *     // expect: MHC3002 at 12:9 to 12:25     (line:column, 1-based; `to` optional)
 *     // expect: MHC2011 at helpers.mhc:1:8   (a position in another file of a folder case)
 *     // verbose                              (check with notes, as `mhc check --verbose`)
 *     // known-bug: what goes wrong today     (the expectations state the intended result)
 *
 * Each case must produce exactly the expected errors and warnings (notes only
 * with `// verbose`), order aside. A `known-bug` case documents a compiler bug:
 * its exact-set test is an expected failure (`it.fails`), so it turns red once
 * the bug is fixed and the marker must go. Every case, known bug or not, has
 * its output pinned in `baselines/<case>.errors.txt`: the rendered diagnostics
 * and summary as `mhc check` prints them (colours off), then each file with
 * `~~~` under every span and `!!!` lines, so a change to a message reads as a
 * text diff. Inputs that cannot be committed (binary, invalid UTF-8, 10 MB)
 * are generated below.
 */

const here = dirname(fileURLToPath(import.meta.url));
const casesDir = join(here, "cases");
const baselinesDir = join(here, "baselines");

/**
 * Codes of the 1xxx-4xxx groups that no `.mhc` file can trigger, each with the
 * reason; kept honest by a test below. Empty today: every such code has a case.
 */
const UNTRIGGERABLE: Readonly<Record<string, string>> = {};

interface Expectation {
  readonly code: string;
  /** Display path of the file relative to the case; undefined for the entry. */
  readonly file?: string;
  /** Null for a file-level problem in a file that could not be read. */
  readonly line: number | null;
  readonly column: number | null;
  readonly endLine?: number | null;
  readonly endColumn?: number | null;
}

interface Case {
  readonly name: string;
  /** Directory display paths are relative to (`cwd` of the check). */
  readonly cwd: string;
  /** Entry file, relative to `cwd`. */
  readonly entry: string;
  /** Folder of the case, relative to `cwd` ("" for single-file cases); header paths are relative to it. */
  readonly folder: string;
  readonly verbose: boolean;
  readonly knownBug?: string;
  readonly expected: readonly Expectation[];
}

// ---------------------------------------------------------------- case files

const EXPECT = /^\/\/\s*expect:\s*(MHC\d{4})\s+at\s+(?:(\S+):)?(\d+):(\d+)(?:\s+to\s+(\d+):(\d+))?\s*$/;

function parseHeader(text: string): { expected: Expectation[]; verbose: boolean; knownBug?: string } {
  const expected: Expectation[] = [];
  let verbose = false;
  let knownBug: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith("//")) break;
    if (/^\/\/\s*expect:/.test(line)) {
      const m = EXPECT.exec(line);
      if (!m) throw new Error(`malformed header line: ${line}`);
      expected.push({
        code: m[1]!,
        ...(m[2] ? { file: m[2] } : {}),
        line: Number(m[3]),
        column: Number(m[4]),
        ...(m[5] ? { endLine: Number(m[5]), endColumn: Number(m[6]) } : {}),
      });
    } else if (/^\/\/\s*verbose\s*$/.test(line)) verbose = true;
    else if (/^\/\/\s*known-bug:/.test(line)) knownBug = line.replace(/^\/\/\s*known-bug:\s*/, "");
  }
  return { expected, verbose, ...(knownBug !== undefined ? { knownBug } : {}) };
}

function committedCases(): Case[] {
  return readdirSync(casesDir)
    .sort()
    .map((name): Case => {
      const isFolder = statSync(join(casesDir, name)).isDirectory();
      const entry = isFolder ? `${name}/main.mhc` : name;
      const header = parseHeader(readFileSync(join(casesDir, entry), "utf8"));
      return { name: name.replace(/\.mhc$/, ""), cwd: casesDir, entry, folder: isFolder ? name : "", ...header };
    });
}

// ---------------------------------------------------------------- generated cases

/** The start of a PNG file: an image saved as `.mhc` by mistake. */
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x01, 0x00]);
/** A constraint saved in Latin-1: `é` is the single byte 0xe9. */
const LATIN1 = Buffer.concat([Buffer.from("// Sinkhorn normalis"), Buffer.from([0xe9]), Buffer.from("e\nconstraint rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\n}\n")]);
const WITH_NUL = Buffer.from("constraint rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\0\n}\n");
const TEN_MB = 10 * 1024 * 1024;
const IMPORT_LIB = 'import "./lib.mhc"\n';
/** Position of the path of `import "./lib.mhc"` on line 1. */
const importSpan = { line: 1, column: 8, endLine: 1, endColumn: 19 } as const;
const fileLevel = { line: null, column: null } as const;

interface GeneratedCase {
  readonly name: string;
  /** Files to write; the entry is `main.mhc` unless `entry` says otherwise. */
  readonly files: Readonly<Record<string, Buffer | string | (() => Buffer)>>;
  readonly entry?: string;
  readonly expected: readonly Expectation[];
}

const generatedCases: readonly GeneratedCase[] = [
  { name: "MHC1020-latin1-file", files: { "main.mhc": LATIN1 }, expected: [{ code: "MHC1020", line: 1, column: 21, endLine: 1, endColumn: 22 }] },
  { name: "MHC1020-imported-latin1-file", files: { "main.mhc": IMPORT_LIB, "lib.mhc": LATIN1 }, expected: [{ code: "MHC1020", ...importSpan }] },
  { name: "MHC1021-nul-byte", files: { "main.mhc": WITH_NUL }, expected: [{ code: "MHC1021", line: 2, column: 25, endLine: 2, endColumn: 26 }] },
  { name: "MHC1021-png-renamed", files: { "logo.mhc": PNG }, entry: "logo.mhc", expected: [{ code: "MHC1021", line: 3, column: 1, endLine: 3, endColumn: 2 }] },
  { name: "MHC1021-imported-binary", files: { "main.mhc": IMPORT_LIB, "lib.mhc": PNG }, expected: [{ code: "MHC1021", ...importSpan }] },
  { name: "MHC1022-ten-megabytes", files: { "main.mhc": () => Buffer.alloc(TEN_MB, "// padding\n") }, expected: [{ code: "MHC1022", ...fileLevel }] },
  { name: "MHC1022-imported-too-large", files: { "main.mhc": IMPORT_LIB, "lib.mhc": () => Buffer.alloc(TEN_MB, "// padding\n") }, expected: [{ code: "MHC1022", ...importSpan }] },
  {
    name: "MHC1024-nested-too-deeply",
    files: { "main.mhc": `constraint deep(L: [n, n]) -> [n, n] {\n  return ${"(".repeat(250)}L${")".repeat(250)}\n}\n` },
    // `  return ` is 9 columns: the 65th `(` (one past the limit of 64) is at column 74.
    expected: [{ code: "MHC1024", line: 2, column: 74, endLine: 2, endColumn: 75 }],
  },
  { name: "MHC1023-empty-file", files: { "main.mhc": "" }, expected: [{ code: "MHC1023", line: 1, column: 1, endLine: 1, endColumn: 1 }] },
  { name: "MHC1023-whitespace-only", files: { "main.mhc": "\n\n   \n" }, expected: [{ code: "MHC1023", line: 1, column: 1, endLine: 1, endColumn: 1 }] },
];

const scratch = mkdtempSync(join(tmpdir(), "mhc-diag-cases-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function materialise(g: GeneratedCase): Case {
  const dir = join(scratch, g.name);
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(g.files)) writeFileSync(join(dir, path), typeof content === "function" ? content() : content);
  return { name: g.name, cwd: dir, entry: g.entry ?? "main.mhc", folder: "", verbose: false, expected: g.expected };
}

// ---------------------------------------------------------------- running

const results = new Map<string, CheckResult>();

function run(c: Case): CheckResult {
  let result = results.get(c.name);
  if (!result) {
    result = checkFiles([c.entry], { cwd: c.cwd, verbose: c.verbose });
    results.set(c.name, result);
  }
  return result;
}

/** A diagnostic as the header writes it. */
function actualOf(c: Case, d: Diagnostic, result: CheckResult): Expectation {
  const file = d.span?.file;
  const source = file !== undefined ? result.sources.get(file) : undefined;
  const inFolder = file !== undefined && file !== c.entry ? relative(c.folder, file) : undefined;
  if (!d.span || !source) return { code: d.code, ...(inFolder ? { file: inFolder } : {}), ...fileLevel };
  const start = source.positionAt(d.span.start);
  const end = source.positionAt(d.span.end);
  return { code: d.code, ...(inFolder ? { file: inFolder } : {}), line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}

function show(e: Expectation, withEnd: boolean): string {
  const where = e.line === null ? "(file)" : `${e.line}:${e.column}${withEnd && e.endLine != null ? ` to ${e.endLine}:${e.endColumn}` : ""}`;
  return `${e.code} at ${e.file ? `${e.file}:` : ""}${where}`;
}

/** Actual diagnostics in the header's notation, to the precision each expectation asks for. */
function compare(c: Case, result: CheckResult): { expected: string[]; actual: string[] } {
  const actual = result.diagnostics.map((d) => actualOf(c, d, result));
  const pool = [...actual];
  const shownActual: string[] = [];
  for (const e of c.expected) {
    const withEnd = e.endLine !== undefined;
    const i = pool.findIndex((a) => show(a, withEnd) === show(e, withEnd));
    if (i >= 0) shownActual.push(show(pool.splice(i, 1)[0]!, withEnd));
  }
  shownActual.push(...pool.map((a) => show(a, true)));
  return { expected: c.expected.map((e) => show(e, e.endLine !== undefined)).sort(), actual: shownActual.sort() };
}

// ---------------------------------------------------------------- baselines

/** The `.errors.txt` text: what `mhc check` prints, then every file with its spans underlined. */
function baseline(c: Case, result: CheckResult): string {
  const rendered = result.diagnostics.length > 0 ? renderDiagnostics(result.diagnostics, result.sources, { color: false }) + "\n" : "";
  const out = [rendered + renderSummary([c.entry], result, { color: false })];
  const files = new Set<string>([c.entry]);
  for (const d of result.diagnostics) if (d.span && !d.span.file.startsWith("<std>")) files.add(d.span.file);
  for (const file of [...files].sort((a, b) => (a === c.entry ? -1 : b === c.entry ? 1 : a.localeCompare(b)))) {
    out.push(annotate(file, result));
  }
  return out.join("\n");
}

function annotate(file: string, result: CheckResult): string {
  const source = result.sources.get(file);
  const mine = result.diagnostics.filter((d) => d.span?.file === file);
  const tally = (severity: Diagnostic["severity"]) => mine.filter((d) => d.severity === severity).length;
  const count = [plural(tally("error"), "error"), ...(["warning", "note"] as const).filter((s) => tally(s) > 0).map((s) => plural(tally(s), s))].join(", ");
  const lines = [`==== ${file} (${count}) ====`];
  if (!source) {
    lines.push("    (not read)");
    for (const d of mine) lines.push(`!!! ${d.severity} ${d.code}: ${d.message}`);
    return lines.join("\n") + "\n";
  }
  for (let line = 1; line <= source.lineCount; line++) {
    const text = source.lineText(line);
    if (line === source.lineCount && text === "") break;
    lines.push(`    ${text}`.trimEnd());
    for (const d of mine) {
      const start = source.positionAt(d.span!.start);
      if (start.line !== line) continue;
      const end = source.positionAt(d.span!.end);
      const last = end.line === line ? end.column : text.length + 1;
      lines.push(`    ${" ".repeat(start.column - 1)}${"~".repeat(Math.max(1, last - start.column))}`);
      lines.push(`!!! ${d.severity} ${d.code}: ${d.message}`);
      for (const s of d.secondary) {
        const at = result.sources.get(s.span.file)?.positionAt(s.span.start);
        lines.push(`!!! related ${s.span.file}${at ? `:${at.line}:${at.column}` : ""}: ${s.message}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------- tests

const cases: Case[] = [...committedCases(), ...generatedCases.map(materialise)];

describe("diagnostics cases", () => {
  for (const c of cases) {
    const exact = c.knownBug ? it.fails : it;
    exact(`${c.name}: reports exactly ${c.expected.map((e) => e.code).join(", ") || "nothing"}${c.knownBug ? " (known bug)" : ""}`, () => {
      const { expected, actual } = compare(c, run(c));
      expect(actual).toEqual(expected);
    });

    it(`${c.name}: every diagnostic is coded and placed inside its file`, () => {
      const result = run(c);
      const codes = new Set(allMessages().map((m) => m.code));
      for (const d of result.diagnostics) {
        expect(codes.has(d.code), `${d.code} is in the catalogue`).toBe(true);
        expect(d.message).not.toMatch(/\{\d\}/);
        expect(d.span, `${d.code} has a span`).toBeDefined();
        const source = result.sources.get(d.span!.file);
        if (!source) {
          // A file that could not be read: a file-level span at its start.
          expect([d.span!.start, d.span!.end]).toEqual([0, 0]);
          continue;
        }
        expect(d.span!.start).toBeGreaterThanOrEqual(0);
        expect(d.span!.start).toBeLessThanOrEqual(d.span!.end);
        expect(d.span!.end).toBeLessThanOrEqual(source.text.length);
        for (const s of d.secondary) {
          const other = result.sources.get(s.span.file);
          expect(other, `secondary label of ${d.code} in a file that was read`).toBeDefined();
          expect(s.span.end).toBeLessThanOrEqual(other!.text.length);
        }
      }
    });

    it(`${c.name}: matches baselines/${c.name}.errors.txt`, async () => {
      await expect(baseline(c, run(c))).toMatchFileSnapshot(join(baselinesDir, `${c.name}.errors.txt`));
    });
  }
});

describe("diagnostics cases cover the catalogue", () => {
  const catalogue = allMessages().map((m) => m.code);
  const userCodes = catalogue.filter((code) => /^MHC[1-4]/.test(code));
  /** Codes a case expects and really produces (a known bug may report another code instead). */
  const covered = (): Set<string> =>
    new Set(cases.flatMap((c) => {
      const actual = new Set(run(c).diagnostics.map((d) => d.code));
      return c.expected.map((e) => e.code).filter((code) => actual.has(code));
    }));

  it("has a case for every code a .mhc file can trigger", () => {
    const done = covered();
    const missing = userCodes.filter((code) => !done.has(code) && !(code in UNTRIGGERABLE));
    expect(missing).toEqual([]);
  });

  it("lists as untriggerable only catalogue codes that no case triggers", () => {
    const done = covered();
    for (const code of Object.keys(UNTRIGGERABLE)) {
      expect(userCodes).toContain(code);
      expect(done.has(code), `${code} has a case: remove it from UNTRIGGERABLE`).toBe(false);
    }
  });

  it("names every case after the first code it expects", () => {
    for (const c of cases) {
      expect(c.name).toMatch(/^MHC\d{4}-[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(c.expected.map((e) => e.code)).toContain(c.name.slice(0, 7));
      for (const e of c.expected) expect(catalogue).toContain(e.code);
    }
  });

  it("has a baseline for every case and no stale baseline", () => {
    const names = new Set(cases.map((c) => `${c.name}.errors.txt`));
    let files: string[] = [];
    try {
      files = readdirSync(baselinesDir);
    } catch {
      // First run: the baselines are being written.
    }
    expect(files.filter((f) => !names.has(f))).toEqual([]);
  });
});
