import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import { writeFileAtomic } from "../../io/ndarray.js";
import { renderSvg } from "../../lab/plots.js";
import { loadCorpus, unigramEntropy } from "../../train/corpus.js";
import { compileModel } from "../../train/model.js";
import { lossCurveSpec } from "../../train/plot.js";
import { trainModel, type TrainResult } from "../../train/trainer.js";
import { selectBackend, type BackendName } from "../../../runtime/tfjs/backend.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { checkOrReport, failWith } from "./common.js";
import { integerOption } from "./init.js";

export interface TrainCommandOptions {
  /** One model, or several separated by commas (with --compare). */
  readonly model?: string;
  readonly data?: string;
  readonly steps?: unknown;
  readonly lr?: unknown;
  readonly batch?: unknown;
  readonly seed?: unknown;
  readonly out?: string;
  /** `true` (every model of the file, or those of --model) or a comma-separated list. */
  readonly compare?: unknown;
  readonly backend?: string;
  readonly evalEvery?: unknown;
  readonly format?: string;
  readonly color?: boolean;
}

export const TRAIN_DEFAULTS = { steps: 200, lr: 3e-3, batch: 8, seed: 0, evalEvery: 50, evalWindows: 32, checkpointEvery: 50 } as const;
export const TRAIN_USAGE = "usage: mhc train FILE --model NAME [--data TEXT] [--steps N] [--lr X] [--batch B] [--seed S] [--out DIR] [--compare [A,B,...]] [--backend wasm|cpu|tensorflow]";

const names = (raw: unknown): string[] => String(raw).split(",").map((s) => s.trim()).filter((s) => s.length > 0);

/**
 * `mhc train FILE --model NAME`: compiles the model to TensorFlow.js, trains it with
 * Adam on the bundled byte-level corpus (or `--data`), and writes into `--out`
 * (default `runs/<model>`): `log.json`, `loss.svg`, `checkpoint.safetensors` +
 * `checkpoint.json` (atomically, every 50 steps and at the end). `--compare` trains
 * several models with the same seed and data, prints a table and writes `compare.svg`
 * and `compare.json` (default out `runs/compare`), each model in `<out>/<model>/`.
 */
export async function trainCommand(file: string | undefined, options: TrainCommandOptions, io: CliIO): Promise<ExitCode> {
  if (!file) throw new UsageError(TRAIN_USAGE);
  const steps = integerOption("steps", options.steps, TRAIN_DEFAULTS.steps, 1);
  const batch = integerOption("batch", options.batch, TRAIN_DEFAULTS.batch, 1, 4096);
  const seed = integerOption("seed", options.seed, TRAIN_DEFAULTS.seed, 0, 2 ** 31);
  const evalEvery = integerOption("eval-every", options.evalEvery, TRAIN_DEFAULTS.evalEvery, 0);
  const lr = options.lr === undefined ? TRAIN_DEFAULTS.lr : Number(options.lr);
  if (!(lr > 0 && Number.isFinite(lr))) throw new UsageError(`\`--lr ${String(options.lr)}\`: expected a positive number`);
  const comparing = options.compare !== undefined && options.compare !== false;
  if (!comparing && !options.model) throw new UsageError(`\`mhc train\` needs \`--model\` (or \`--compare\`); ${TRAIN_USAGE}`);

  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  const entry = checked.checked.program.files.get(checked.checked.program.entries[0]!)?.displayPath;
  const declared = [...checked.checked.models.values()].filter((m) => m.decl.span.file === entry).map((m) => m.name);
  const wanted = comparing && typeof options.compare === "string" ? names(options.compare) : options.model ? names(options.model) : declared;
  if (wanted.length === 0) return failWith([makeDiagnostic(Diag.BadSetting, undefined, ["--compare", `\`${file}\` declares no model`])], file, io, options);
  const known = [...checked.checked.models.keys()];
  for (const name of wanted) {
    if (!checked.checked.models.has(name)) {
      const help = didYouMean(name, known);
      return failWith([makeDiagnostic(Diag.BadSetting, undefined, ["--model " + name, `\`${file}\` declares no model of that name`], help ? { help } : { notes: [`its models are ${known.map((k) => `\`${k}\``).join(", ")}`] })], file, io, options);
    }
  }
  const models = wanted.map((n) => checked.checked.models.get(n)!);
  const context = Math.max(...models.map((m) => m.context));
  const loaded = loadCorpus(options.data === undefined ? undefined : resolve(io.cwd, options.data), context);
  if (!loaded.ok) return failWith([loaded.diagnostic], file, io, options);
  const corpus = loaded.corpus;
  const entropy = unigramEntropy(corpus.bytes);

  const backend = await selectBackend({ backend: (options.backend ?? "auto") as BackendName | "auto" });
  if (!backend.gradients) throw new Error("tfjs gradients are not registered; training needs them");
  io.stderr.write(`backend: ${backend.name} (${backend.package}); corpus ${options.data ?? "data/corpus.txt (bundled)"}: ${corpus.bytes.length} bytes, unigram entropy ${entropy.toFixed(3)} nats/byte\n`);

  const outRoot = resolve(io.cwd, options.out ?? join("runs", comparing ? "compare" : models[0]!.name));
  const tty = io.stderr.isTTY === true;
  let stop = false;
  const onSigint = () => {
    stop = true;
  };
  process.on("SIGINT", onSigint);
  const results: { result: TrainResult; parameters: number }[] = [];
  try {
    for (const model of models) {
      const compiled = await compileModel(checked, model, version());
      const dir = comparing ? join(outRoot, model.name) : outRoot;
      mkdirSync(join(dir, "model"), { recursive: true });
      for (const f of compiled.files) writeFileAtomic(join(dir, "model", f.path), new TextEncoder().encode(f.text));
      io.stderr.write(`training ${model.name}: ${compiled.parameterCount} parameters, ${steps} steps of ${batch} x ${model.context} bytes, lr ${lr}, seed ${seed}\n`);
      const result = await trainModel(compiled.module, corpus, {
        steps,
        lr,
        batch,
        seed,
        evalEvery,
        evalWindows: TRAIN_DEFAULTS.evalWindows,
        checkpointEvery: TRAIN_DEFAULTS.checkpointEvery,
        outDir: dir,
        shouldStop: () => stop,
        onStep: (r, total) => {
          if (!tty) return;
          const width = 24;
          const done = Math.round((r.step / total) * width);
          io.stderr.write(`\r${model.name} [${"#".repeat(done)}${".".repeat(width - done)}] ${r.step}/${total} loss ${r.loss.toFixed(3)}${r.evalLoss !== undefined ? ` eval ${r.evalLoss.toFixed(3)}` : ""} ${Math.round(r.tokensPerSecond)} tok/s   `);
        },
      });
      if (tty) io.stderr.write("\n");
      const log = {
        format: "mhc-train-log",
        formatVersion: 1,
        model: model.name,
        file,
        backend: backend.name,
        options: { steps, lr, batch, seed, evalEvery, context: model.context },
        corpus: { path: options.data ?? "data/corpus.txt", bytes: corpus.bytes.length, unigramEntropy: entropy },
        parameterCount: compiled.parameterCount,
        stepsRun: result.stepsRun,
        interrupted: result.interrupted,
        elapsedMs: result.elapsedMs,
        finalLoss: result.finalLoss,
        finalEvalLoss: result.finalEvalLoss,
        history: result.history,
      };
      writeFileAtomic(join(dir, "log.json"), new TextEncoder().encode(JSON.stringify(log, null, 2) + "\n"));
      writeFileAtomic(join(dir, "loss.svg"), new TextEncoder().encode(await renderSvg(lossCurveSpec([result], entropy))));
      io.stderr.write(`${model.name}: loss ${result.finalLoss.toFixed(4)}, eval ${result.finalEvalLoss.toFixed(4)} after ${result.stepsRun} steps (${(result.elapsedMs / 1000).toFixed(1)} s); wrote ${dir}/{log.json,loss.svg,checkpoint.safetensors}\n`);
      results.push({ result, parameters: compiled.parameterCount });
      if (result.interrupted) {
        io.stderr.write(`interrupted: the last checkpoint (step ${result.stepsRun}) is in ${dir}\n`);
        return ExitCode.UserError;
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  if (comparing) {
    io.stdout.write(compareTable(results, entropy));
    writeFileAtomic(join(outRoot, "compare.svg"), new TextEncoder().encode(await renderSvg(lossCurveSpec(results.map((r) => r.result), entropy))));
    const summary = results.map(({ result, parameters }) => ({ model: result.model, finalLoss: result.finalLoss, finalEvalLoss: result.finalEvalLoss, seconds: result.elapsedMs / 1000, parameters }));
    writeFileAtomic(join(outRoot, "compare.json"), new TextEncoder().encode(JSON.stringify({ unigramEntropy: entropy, steps, lr, batch, seed, backend: backend.name, models: summary }, null, 2) + "\n"));
    io.stderr.write(`plot: ${join(outRoot, "compare.svg")}\n`);
  }
  return ExitCode.Ok;
}

/** The comparison table: final train and eval loss, time, parameters. */
export function compareTable(results: readonly { result: TrainResult; parameters: number }[], entropy: number): string {
  const rows = [["model", "train loss", "eval loss", "time (s)", "parameters"]];
  for (const { result, parameters } of results) {
    rows.push([result.model, result.finalLoss.toFixed(4), result.finalEvalLoss.toFixed(4), (result.elapsedMs / 1000).toFixed(1), String(parameters)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  return [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line), `(unigram entropy of the corpus: ${entropy.toFixed(4)} nats/byte)`].join("\n") + "\n";
}
