import { dirname, isAbsolute, relative, resolve } from "node:path";
import { readdirSync } from "node:fs";
import type { FileAst, ImportDecl } from "../../grammar/ast.js";
import { parse } from "../../grammar/index.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { closestName } from "../diagnostics/suggest.js";
import { formatBytes, MAX_SOURCE_BYTES, readSource, type ReadResult } from "../source/read-source.js";
import type { SourceSet } from "../source/source-set.js";
import { span, type Span } from "../source/span.js";

export interface LoadedImport {
  readonly decl: ImportDecl;
  /** Absolute path of the imported file, when it was found and parsed. */
  readonly target?: string;
}

export interface LoadedFile {
  readonly absPath: string;
  /** The path spans and messages use: relative to the working directory when inside it. */
  readonly displayPath: string;
  readonly ast: FileAst;
  readonly imports: LoadedImport[];
  readonly isPrelude: boolean;
}

export interface Program {
  /** Every file read, in the order they were loaded (prelude first). */
  readonly files: ReadonlyMap<string, LoadedFile>;
  /** Absolute paths of the files named on the command line. */
  readonly entries: readonly string[];
  readonly prelude?: LoadedFile;
}

export interface LoadOptions {
  /** Absolute path of `std.mhc`; omitted to check without the prelude. */
  readonly preludePath?: string;
  /** Directory display paths are relative to (default: the working directory). */
  readonly cwd?: string;
  /** Reads a file (default: from disk); tests substitute an in-memory tree. */
  readonly read?: (absPath: string) => ReadResult;
  /** Lists `.mhc` files of a directory, for "did you mean" on a missing import. */
  readonly list?: (dir: string) => string[];
}

export const PRELUDE_DISPLAY_PATH = "<std>/std.mhc";

/**
 * Reads and parses the entry files, the prelude and everything they import,
 * relative to the importing file. A missing file, an unreadable one or an
 * import cycle is a diagnostic at the `import` that caused it.
 */
export function loadProgram(entryPaths: readonly string[], options: LoadOptions, sources: SourceSet, bag: DiagnosticBag): Program {
  const cwd = options.cwd ?? process.cwd();
  const read = options.read ?? readSource;
  const list = options.list ?? listMhcFiles;
  const files = new Map<string, LoadedFile>();
  const loading: string[] = [];

  const display = (abs: string): string => {
    const rel = relative(cwd, abs);
    return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
  };

  const load = (absPath: string, isPrelude: boolean, from?: ImportDecl): LoadedFile | undefined => {
    const existing = files.get(absPath);
    if (existing) return existing;
    const displayPath = isPrelude ? PRELUDE_DISPLAY_PATH : display(absPath);
    const result = read(absPath);
    if (!result.ok) {
      // Show a binary or mis-encoded entry file as far as it decodes, so the frame points at the byte.
      if (!from && (result.reason === "binary" || result.reason === "not-utf8")) sources.add(displayPath, result.lossyText);
      reportReadFailure(result, displayPath, from, bag, from ? suggestImport(from, dirname(absPath), list) : undefined);
      return undefined;
    }
    sources.add(displayPath, result.text);
    const parsed = parse(result.text, displayPath);
    bag.addAll(parsed.diagnostics);
    if (!isPrelude && parsed.ast.decls.length === 0 && parsed.diagnostics.length === 0) {
      bag.report(Diag.EmptyFile, span(displayPath, 0, 0), [displayPath], { notes: ["a `.mhc` file declares constraints, connections and models"] });
    }
    const imports: LoadedImport[] = [];
    const file: LoadedFile = { absPath, displayPath, ast: parsed.ast, imports, isPrelude };
    files.set(absPath, file);
    loading.push(absPath);
    for (const decl of parsed.ast.decls) {
      if (decl.kind !== "Import") continue;
      const target = resolve(dirname(absPath), decl.path);
      const cycleStart = loading.indexOf(target);
      if (cycleStart >= 0) {
        const chain = [...loading.slice(cycleStart), target].map((p) => `\`${display(p)}\``).join(" -> ");
        bag.report(Diag.ImportCycle, decl.pathSpan, [chain], { label: "this import closes the cycle", help: "move the shared declarations into a file that both import" });
        imports.push({ decl });
        continue;
      }
      if (imports.some((i) => i.target === target)) {
        const first = imports.find((i) => i.target === target)!;
        bag.report(Diag.DuplicateImport, decl.span, [decl.path], { label: "imported again here", secondary: [{ span: first.decl.span, message: "first imported here" }] });
        continue;
      }
      const loaded = load(target, false, decl);
      imports.push(loaded ? { decl, target: loaded.absPath } : { decl });
    }
    loading.pop();
    return file;
  };

  let prelude: LoadedFile | undefined;
  if (options.preludePath) prelude = load(options.preludePath, true);
  const entries: string[] = [];
  for (const entry of entryPaths) {
    const abs = resolve(cwd, entry);
    if (load(abs, false)) entries.push(abs);
  }
  return { files, entries, ...(prelude ? { prelude } : {}) };
}

/** Reports a file that could not be read as a `.mhc` source (imported `from`, or named on the command line). */
export function reportReadFailure(result: Exclude<ReadResult, { ok: true }>, displayPath: string, from: ImportDecl | undefined, bag: DiagnosticBag, suggestion?: string): void {
  const at: Span | undefined = from?.pathSpan;
  switch (result.reason) {
    case "not-found":
      if (from) bag.report(Diag.ImportNotFound, at, [from.path], { label: "no such file", ...(suggestion ? { help: suggestion } : { notes: [`paths are relative to the importing file; looked for \`${displayPath}\``] }) });
      else bag.report(Diag.InputNotFound, undefined, [displayPath, "no such file"]);
      return;
    case "directory":
    case "unreadable":
      if (from) bag.report(Diag.ImportUnreadable, at, [from.path, result.detail], { label: "cannot be read" });
      else bag.report(Diag.InputNotFound, undefined, [displayPath, result.detail]);
      return;
    case "too-large":
      // The file is not read, so there is no line to show: the span only names the file.
      bag.report(Diag.FileTooLarge, at ?? span(displayPath, 0, 0), [displayPath, formatBytes(result.size), formatBytes(MAX_SOURCE_BYTES)], {
        ...(at ? { label: "imported here" } : {}),
        notes: ["`.mhc` files are small text files; is this the right file?"],
      });
      return;
    case "binary":
    case "not-utf8": {
      const where = at ?? span(displayPath, result.textOffset, result.textOffset + 1);
      const what = result.reason === "binary" ? "a NUL byte" : "a byte that is not UTF-8";
      bag.report(result.reason === "binary" ? Diag.BinaryFile : Diag.NotUtf8, where, [displayPath], {
        label: at ? "imported here" : `${what} (byte ${result.offset})`,
        notes: [...(at ? [`${what} at byte ${result.offset} of \`${displayPath}\``] : []), "`.mhc` files are UTF-8 text"],
      });
      return;
    }
  }
}

/** "did you mean `./lib/constraints.mhc`?" from the files beside the one that was not found. */
function suggestImport(from: ImportDecl, missingDir: string, list: (dir: string) => string[]): string | undefined {
  const slash = from.path.lastIndexOf("/");
  const prefix = from.path.slice(0, slash + 1);
  const base = from.path.slice(slash + 1);
  const best = closestName(base, list(missingDir));
  return best ? `did you mean \`${prefix}${best}\`?` : undefined;
}

function listMhcFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".mhc"));
  } catch {
    return [];
  }
}
