import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateTfjs, selectConnections, tfjsSublayerGraphs } from "../../codegen/tfjs/index.js";
import { writeCuda } from "./compile-cuda.js";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import type { CheckResult } from "../../driver.js";
import { printGraph } from "../../ir/print.js";
import { describeError, writeFileAtomic } from "../../io/ndarray.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { checkOrReport, failWith } from "./common.js";

export interface CompileOptions {
  readonly target?: string;
  readonly out?: string;
  /** tfjs: also emit model modules, for every model of the file (`true`) or the named ones. */
  readonly models?: boolean | string;
  /** CUDA: run nvcc and write `lib<name>.so` next to the sources. */
  readonly build?: boolean;
  readonly arch?: string;
  readonly emit?: string;
  readonly format?: string;
  readonly color?: boolean;
}

const EMITS = ["ir", "ir-opt"] as const;
type Emit = (typeof EMITS)[number];

/**
 * `mhc compile FILE --target tfjs --out DIR`: a formatted TypeScript module per
 * connection of FILE that checks with its default arguments (`DIR/<name>.ts`) and
 * `DIR/manifest.json`, each written atomically; a one-line summary on stderr.
 * `--emit ir` / `--emit ir-opt` print each connection's sublayer graph before / after
 * the optimisation pipeline on stdout instead of writing code.
 *
 * Usage mistakes throw `UsageError` synchronously; code generation is asynchronous
 * (prettier), so that path returns a promise.
 */
export function compileCommand(file: string | undefined, options: CompileOptions, io: CliIO): Promise<ExitCode> | ExitCode {
  if (!file) throw new UsageError("usage: mhc compile FILE --target tfjs --out DIR");
  const target = options.target;
  if (target === undefined) throw new UsageError("`mhc compile` needs `--target tfjs`");
  if (target !== "tfjs" && target !== "cuda") throw new UsageError(`unknown target \`${target}\`; expected \`tfjs\` or \`cuda\``);
  if (options.build && target !== "cuda") throw new UsageError("`--build` applies to `--target cuda`");
  const emit = options.emit;
  if (emit !== undefined && !(EMITS as readonly string[]).includes(emit)) {
    const later = emit === "ast" || emit === "kernels" ? ` (\`--emit ${emit}\` is not part of this build yet)` : "";
    throw new UsageError(`unknown \`--emit ${emit}\`; expected ${EMITS.map((e) => `\`${e}\``).join(" or ")}${later}`);
  }
  if (emit === undefined && !options.out) throw new UsageError("`mhc compile` needs `--out DIR` (or `--emit ir` to print the IR)");

  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  if (emit !== undefined) return printIr(checked, emit as Emit, io);
  if (target === "cuda") return writeCuda(checked, file, options.out!, io, options);
  return writeTfjs(checked, file, options.out!, io, options);
}

function printIr(checked: CheckResult, emit: Emit, io: CliIO): ExitCode {
  const { selected } = selectConnections(checked);
  if (selected.length === 0) io.stderr.write(`no connections declared in ${checked.checked.program.files.get(checked.checked.program.entries[0]!)?.displayPath ?? "the file"} (\`--emit ir\` prints connections only)\n`);
  const when = emit === "ir" ? "before" : "after";
  const parts = selected.map((conn) => {
    const graphs = tfjsSublayerGraphs(checked, conn);
    const graph = emit === "ir" ? graphs.before : graphs.after;
    return `// connection \`${conn.name}\`: sublayer graph (f32, F given as input f), ${when} the optimisation pipeline\n${printGraph(graph)}`;
  });
  io.stdout.write(parts.join("\n"));
  return ExitCode.Ok;
}

async function writeTfjs(checked: CheckResult, file: string, out: string, io: CliIO, options: CompileOptions): Promise<ExitCode> {
  const models = options.models === undefined || options.models === false ? undefined : options.models === true ? ("all" as const) : String(options.models).split(",").map((m) => m.trim()).filter(Boolean);
  const output = await generateTfjs(checked, { compilerVersion: version(), ...(models ? { models } : {}) });
  const dir = resolve(io.cwd, out);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    return failWith([makeDiagnostic(Diag.CannotWrite, undefined, [out, describeError(error)])], file, io, options);
  }
  for (const generated of output.files) {
    const path = join(dir, generated.path);
    const written = writeFileAtomic(path, new TextEncoder().encode(generated.text));
    if (!written.ok) return failWith([makeDiagnostic(Diag.CannotWrite, undefined, [path, written.reason])], file, io, options);
  }
  for (const s of output.skipped) io.stderr.write(`note: no module for connection \`${s.name}\`: ${s.reason}\n`);
  const modules = output.files.filter((f) => f.path.endsWith(".ts")).map((f) => f.path);
  const what = modules.length === 0 ? `no connections declared in ${file} (add \`--models\` to compile its models); wrote` : `wrote ${modules.join(", ")} and`;
  io.stderr.write(`${what} manifest.json to ${out} (target tfjs, float32, mhc-lang ${version()})\n`);
  return ExitCode.Ok;
}
