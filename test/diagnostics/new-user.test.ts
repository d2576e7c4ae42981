import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJsonDiagnostic, type JsonDiagnostic } from "../../compiler/diagnostics/json.js";
import { checkFiles } from "../../compiler/driver.js";

/**
 * The first mistakes of a new user (our issue's list), each checked twice: in
 * process through `checkFiles`, and through the real command line
 * `mhc check FILE --format json` (built by `test/global-setup.ts`). Each must
 * give exactly the listed coded diagnostics at the right place, never an
 * exception, a stack trace or an internal error; the CLI must exit 1 on errors
 * (0 when there are only warnings) and print one JSON array whose objects have
 * the pinned keys of design.md §2.5, equal to what the library reports.
 */

const root = fileURLToPath(new URL("../..", import.meta.url));
const bundle = join(root, "dist", "mhc.cjs");

const PINNED_KEYS = ["code", "severity", "message", "file", "line", "column", "endLine", "endColumn", "notes"];

interface Expected {
  readonly code: string;
  readonly severity: "error" | "warning";
  readonly file: string;
  /** Null for a problem with the whole file (it could not be read as text). */
  readonly line: number | null;
  readonly column: number | null;
  readonly endLine: number | null;
  readonly endColumn: number | null;
}

interface Scenario {
  readonly name: string;
  readonly files: Readonly<Record<string, string | Buffer | (() => Buffer)>>;
  readonly entry: string;
  readonly expected: readonly Expected[];
  readonly exitCode: 0 | 1;
}

const at = (code: string, file: string, line: number, column: number, endLine: number, endColumn: number): Expected => ({ code, severity: "error", file, line, column, endLine, endColumn });
const wholeFile = (code: string, file: string): Expected => ({ code, severity: "error", file, line: null, column: null, endLine: null, endColumn: null });
/** A one-character span at the offending byte of a file shown as far as it decodes. */
const atByte = (code: string, file: string, line: number, column: number): Expected => ({ code, severity: "error", file, line, column, endLine: line, endColumn: column + 1 });

const scenarios: readonly Scenario[] = [
  {
    name: "misspelt keyword",
    files: { "model.mhc": "constrant rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\n}\n" },
    entry: "model.mhc",
    expected: [at("MHC1013", "model.mhc", 1, 1, 1, 10)],
    exitCode: 1,
  },
  {
    name: "wrong shape",
    files: { "model.mhc": "constraint normalised(L: [n, n]) -> [n, n] {\n  let M = exp(L)\n  M = M / ones([n, 2])\n  return M\n}\n" },
    entry: "model.mhc",
    expected: [at("MHC3002", "model.mhc", 3, 7, 3, 23)],
    exitCode: 1,
  },
  {
    name: "missing import",
    files: { "model.mhc": 'import "./my-constraints.mhc"\n\nconstraint rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\n}\n' },
    entry: "model.mhc",
    expected: [at("MHC2010", "model.mhc", 1, 8, 1, 30)],
    exitCode: 1,
  },
  {
    name: "import cycle",
    files: {
      "model.mhc": 'import "./lib.mhc"\n\nconstraint rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\n}\n',
      "lib.mhc": 'import "./model.mhc"\n\nconstraint cols(L: [n, n]) -> [n, n] {\n  return softmax_cols(L)\n}\n',
    },
    entry: "model.mhc",
    expected: [at("MHC2011", "lib.mhc", 1, 8, 1, 21)],
    exitCode: 1,
  },
  {
    name: "unknown constraint",
    files: { "model.mhc": "connection mine {\n  streams 4\n  pre  dynamic sigmoid_eps()\n  post dynamic scaled_sigmoid()\n  res  dynamic sinkhorm(iters = 10)\n}\n" },
    entry: "model.mhc",
    expected: [at("MHC2002", "model.mhc", 5, 16, 5, 24)],
    exitCode: 1,
  },
  {
    name: "wrong argument name",
    files: { "model.mhc": "constraint twice(L: [n, n]) -> [n, n] {\n  return sinkhorn(L, iterations = 5)\n}\n" },
    entry: "model.mhc",
    expected: [at("MHC2023", "model.mhc", 2, 22, 2, 32)],
    exitCode: 1,
  },
  {
    name: "empty file",
    files: { "model.mhc": "" },
    entry: "model.mhc",
    expected: [{ code: "MHC1023", severity: "warning", file: "model.mhc", line: 1, column: 1, endLine: 1, endColumn: 1 }],
    exitCode: 0,
  },
  {
    name: "binary garbage",
    // The start of a PNG image saved as `.mhc`.
    files: { "model.mhc": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xde, 0xad, 0xbe, 0xef]) },
    entry: "model.mhc",
    // The first NUL is byte 8, the first character of line 3.
    expected: [atByte("MHC1021", "model.mhc", 3, 1)],
    exitCode: 1,
  },
  {
    name: "a 10 MB file",
    files: { "model.mhc": () => Buffer.alloc(10 * 1024 * 1024, "constraint rows(L: [n, n]) -> [n, n] { return softmax_rows(L) }\n") },
    entry: "model.mhc",
    expected: [wholeFile("MHC1022", "model.mhc")],
    exitCode: 1,
  },
  {
    name: "a NUL byte",
    files: { "model.mhc": "constraint rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\0\n}\n" },
    entry: "model.mhc",
    expected: [atByte("MHC1021", "model.mhc", 2, 25)],
    exitCode: 1,
  },
  {
    name: "invalid UTF-8",
    // Saved as Latin-1: `é` is the lone byte 0xe9.
    files: { "model.mhc": Buffer.concat([Buffer.from("// normalis"), Buffer.from([0xe9]), Buffer.from("e rows\nconstraint rows(L: [n, n]) -> [n, n] {\n  return softmax_rows(L)\n}\n")]) },
    entry: "model.mhc",
    expected: [atByte("MHC1020", "model.mhc", 1, 12)],
    exitCode: 1,
  },
];

const scratch = mkdtempSync(join(tmpdir(), "mhc-new-user-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Writes a scenario's files into a fresh directory and returns it. */
function materialise(s: Scenario, index: number): string {
  const dir = join(scratch, `scenario-${index}`);
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(s.files)) writeFileSync(join(dir, path), typeof content === "function" ? content() : content);
  return dir;
}

const dirs = new Map<Scenario, string>();
beforeAll(() => scenarios.forEach((s, i) => dirs.set(s, materialise(s, i))));

/** The environment of a spawned `mhc`: colours off, no test switches inherited. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env["FORCE_COLOR"];
  delete env["MHC_FORCE_INTERNAL_ERROR"];
  return env;
}

function located(d: JsonDiagnostic): Expected {
  return { code: d.code, severity: d.severity as Expected["severity"], file: d.file ?? "", line: d.line, column: d.column, endLine: d.endLine, endColumn: d.endColumn };
}

function sorted(items: readonly Expected[]): Expected[] {
  return [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** What a stack trace or a crash report looks like on stderr. */
const STACK_TRACE = /^\s+at .+(:\d+:\d+\)?)$|internal compiler error|MHC9\d{3}|\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/m;

function expectClearMessages(diagnostics: readonly JsonDiagnostic[]): void {
  for (const d of diagnostics) {
    expect(d.code).toMatch(/^MHC[1-4]\d{3}$/);
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.message).not.toMatch(/\{\d\}|undefined|NaN|\[object /);
  }
}

describe("a new user's first mistakes, in process", () => {
  for (const s of scenarios) {
    it(`${s.name}: ${s.expected.map((e) => e.code).join(", ")}`, () => {
      const dir = dirs.get(s)!;
      let result: ReturnType<typeof checkFiles> | undefined;
      expect(() => {
        result = checkFiles([s.entry], { cwd: dir });
      }).not.toThrow();
      const json = result!.diagnostics.map((d) => toJsonDiagnostic(d, result!.sources));
      expect(sorted(json.map(located))).toEqual(sorted(s.expected));
      expectClearMessages(json);
      expect(result!.errorCount).toBe(s.exitCode === 1 ? s.expected.filter((e) => e.severity === "error").length : 0);
    });
  }
});

describe("a new user's first mistakes, through `mhc check --format json`", () => {
  beforeAll(() => {
    if (!existsSync(bundle)) throw new Error("dist/mhc.cjs is missing: run `npm run build` (test/global-setup.ts does it when wired into vitest.config.ts)");
  });

  for (const s of scenarios) {
    it(`${s.name}: exit ${s.exitCode}, ${s.expected.map((e) => e.code).join(", ")} as JSON`, () => {
      const dir = dirs.get(s)!;
      const run = spawnSync(process.execPath, [bundle, "check", s.entry, "--format", "json"], {
        cwd: dir,
        encoding: "utf8",
        env: cliEnv(),
        timeout: 20_000,
      });
      expect(run.error).toBeUndefined();
      expect(run.stderr).not.toMatch(STACK_TRACE);
      expect(run.status, `stderr: ${run.stderr}`).toBe(s.exitCode);

      const parsed: unknown = JSON.parse(run.stdout);
      expect(Array.isArray(parsed)).toBe(true);
      const diagnostics = parsed as JsonDiagnostic[];
      for (const d of diagnostics) {
        expect(Object.keys(d).slice(0, PINNED_KEYS.length)).toEqual(PINNED_KEYS);
        expect(Array.isArray(d.notes)).toBe(true);
      }
      expect(sorted(diagnostics.map(located))).toEqual(sorted(s.expected));
      expectClearMessages(diagnostics);

      // The command line reports exactly what the library does.
      const library = checkFiles([s.entry], { cwd: dir });
      expect(diagnostics).toEqual(library.diagnostics.map((d) => JSON.parse(JSON.stringify(toJsonDiagnostic(d, library.sources))) as JsonDiagnostic));
    });
  }
});
