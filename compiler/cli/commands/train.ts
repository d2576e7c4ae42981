import { mkdirSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import { writeFileAtomic } from "../../io/ndarray.js";
import { renderSvg } from "../../lab/plots.js";
import { hasCheckpoint, readCheckpoint, readParameters, type Checkpoint } from "../../train/checkpoint.js";
import { loadCorpus, unigramEntropy } from "../../train/corpus.js";
import { TrainDiag } from "../../train/diagnostics.js";
import { compileModel } from "../../train/model.js";
import { lossCurveSpec } from "../../train/plot.js";
import { resumeConflict } from "../../train/resume.js";
import { corpusDigest, trainModel, type TrainResult } from "../../train/trainer.js";
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
  readonly checkpointEvery?: unknown;
  /** `true` (the --out directory) or the directory of the checkpoint to continue. */
  readonly resume?: unknown;
  /** Start from these parameters (a safetensors file with the model's names). */
  readonly weights?: string;
  readonly format?: string;
  readonly color?: boolean;
}

/** Stops a running training at the next step boundary (Ctrl-C); a second request ends the process at once. */
export interface StopSignal {
  readonly requested: () => boolean;
  readonly dispose: () => void;
}

export const TRAIN_DEFAULTS = { steps: 200, lr: 3e-3, batch: 8, seed: 0, evalEvery: 50, evalWindows: 32, checkpointEvery: 50 } as const;
export const TRAIN_USAGE =
  "usage: mhc train FILE --model NAME [--data TEXT] [--steps N] [--lr X] [--batch B] [--seed S] [--out DIR] [--resume [DIR]] [--weights W.safetensors] [--compare [A,B,...]] [--backend wasm|cpu|tensorflow]";

const names = (raw: unknown): string[] => String(raw).split(",").map((s) => s.trim()).filter((s) => s.length > 0);

/** SIGINT as a stop request: the first lets the current step finish and its checkpoint be written; a second one kills the process. */
function sigintStop(io: CliIO): StopSignal {
  let stop = false;
  const onSigint = () => {
    if (stop) {
      process.off("SIGINT", onSigint);
      process.kill(process.pid, "SIGINT");
      return;
    }
    stop = true;
    io.stderr.write("\nstopping after this step (its checkpoint is written first); press Ctrl-C again to quit at once\n");
  };
  process.on("SIGINT", onSigint);
  return { requested: () => stop, dispose: () => process.off("SIGINT", onSigint) };
}

/**
 * `mhc train FILE --model NAME`: compiles the model to TensorFlow.js, trains it with
 * Adam on the bundled byte-level corpus (or `--data`), and writes into `--out`
 * (default `runs/<model>`): `log.json`, `loss.svg` and checkpoints (every
 * `--checkpoint-every` steps, at the end, and when stopped by Ctrl-C; see
 * `compiler/train/checkpoint.ts`). `--resume [DIR]` continues the checkpoint in DIR
 * (default: the out directory) exactly where it stopped. `--compare` trains several
 * models with the same seed and data, prints a table and writes `compare.svg` and
 * `compare.json` (default out `runs/compare`), each model in `<out>/<model>/`.
 */
export async function trainCommand(file: string | undefined, options: TrainCommandOptions, io: CliIO, stopSignal?: StopSignal): Promise<ExitCode> {
  if (!file) throw new UsageError(TRAIN_USAGE);
  const steps = integerOption("steps", options.steps, TRAIN_DEFAULTS.steps, 1);
  const givenBatch = options.batch === undefined ? undefined : integerOption("batch", options.batch, TRAIN_DEFAULTS.batch, 1, 4096);
  const givenSeed = options.seed === undefined ? undefined : integerOption("seed", options.seed, TRAIN_DEFAULTS.seed, 0, 2 ** 31);
  const evalEvery = integerOption("eval-every", options.evalEvery, TRAIN_DEFAULTS.evalEvery, 0);
  const checkpointEvery = integerOption("checkpoint-every", options.checkpointEvery, TRAIN_DEFAULTS.checkpointEvery, 0);
  const givenLr = options.lr === undefined ? undefined : Number(options.lr);
  if (givenLr !== undefined && !(givenLr > 0 && Number.isFinite(givenLr))) throw new UsageError(`\`--lr ${String(options.lr)}\`: expected a positive number`);
  const comparing = options.compare !== undefined && options.compare !== false;
  if (!comparing && !options.model) throw new UsageError(`\`mhc train\` needs \`--model\` (or \`--compare\`); ${TRAIN_USAGE}`);
  const resuming = options.resume !== undefined && options.resume !== false;
  if (resuming && options.weights !== undefined) throw new UsageError("`--resume` continues a checkpoint's parameters; `--weights` starts from others: give one of them");
  if (comparing && options.weights !== undefined) throw new UsageError("`--weights` is for one model; leave it out with `--compare`");

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
  const corpusName = options.data ?? "data/corpus.txt";
  const loaded = loadCorpus(options.data === undefined ? undefined : resolve(io.cwd, options.data), context);
  if (!loaded.ok) return failWith([loaded.diagnostic], file, io, options);
  const corpus = loaded.corpus;
  const entropy = unigramEntropy(corpus.bytes);
  const digest = corpusDigest(corpus.bytes);

  // Where each model's run lives, and the checkpoint it continues.
  const outGiven = options.out ?? (typeof options.resume === "string" ? options.resume : join("runs", comparing ? "compare" : models[0]!.name));
  const outRoot = resolve(io.cwd, outGiven);
  const shownOf = (dir: string) => relative(io.cwd, dir) || ".";
  const dirOf = (name: string) => (comparing ? join(outRoot, name) : outRoot);
  const resumeRoot = typeof options.resume === "string" ? resolve(io.cwd, options.resume) : outRoot;
  const resumeDirOf = (name: string) => (comparing ? join(resumeRoot, name) : resumeRoot);
  if (resuming && comparing && !models.some((m) => hasCheckpoint(resumeDirOf(m.name)))) {
    return failWith([makeDiagnostic(TrainDiag.NoCheckpoint, undefined, [shownOf(resumeRoot)], { notes: [`none of ${models.map((m) => `\`${m.name}/\``).join(", ")} has a \`checkpoint.json\``], help: "leave out `--resume` to start a new run" })], file, io, options);
  }

  const backend = await selectBackend({ backend: (options.backend ?? "auto") as BackendName | "auto" });
  if (!backend.gradients) throw new Error("tfjs gradients are not registered; training needs them");
  io.stderr.write(`backend: ${backend.name} (${backend.package}); corpus ${options.data ?? "data/corpus.txt (bundled)"}: ${corpus.bytes.length} bytes, unigram entropy ${entropy.toFixed(3)} nats/byte\n`);

  const tty = io.stderr.isTTY === true;
  const stop = stopSignal ?? sigintStop(io);
  const results: { result: TrainResult; parameters: number }[] = [];
  let settings = { lr: givenLr ?? TRAIN_DEFAULTS.lr, batch: givenBatch ?? TRAIN_DEFAULTS.batch, seed: givenSeed ?? TRAIN_DEFAULTS.seed };
  try {
    for (const model of models) {
      const compiled = await compileModel(checked, model, version());
      const dir = dirOf(model.name);
      mkdirSync(join(dir, "model"), { recursive: true });
      for (const f of compiled.files) writeFileAtomic(join(dir, "model", f.path), new TextEncoder().encode(f.text));
      const specs = compiled.module.parameterSpecs;

      let resume: Checkpoint | undefined;
      if (resuming && (!comparing || hasCheckpoint(resumeDirOf(model.name)))) {
        const shown = shownOf(resumeDirOf(model.name));
        const read = readCheckpoint(resumeDirOf(model.name), shown, model.name, specs);
        if (!read.ok) return failWith(read.diagnostics, file, io, options);
        const conflict = resumeConflict(shown, read.value.state, { ...(givenLr !== undefined ? { lr: givenLr } : {}), ...(givenBatch !== undefined ? { batch: givenBatch } : {}), ...(givenSeed !== undefined ? { seed: givenSeed } : {}) }, { context: model.context, dropout: compiled.module.config.dropout, corpusDigest: digest, corpusName });
        if (conflict) return failWith([conflict], file, io, options);
        resume = read.value;
        const saved = resume.state.options;
        settings = { lr: saved.lr, batch: saved.batch, seed: saved.seed };
        io.stderr.write(`resuming ${model.name} from the checkpoint of step ${resume.state.step} in ${shown}\n`);
      } else if (resuming) {
        io.stderr.write(`${model.name} has no checkpoint in ${shownOf(resumeDirOf(model.name))}: training it from the start\n`);
      } else if (hasCheckpoint(dir)) {
        io.stderr.write(`note: starting ${model.name} afresh; the checkpoint in ${shownOf(dir)} will be replaced (--resume continues it instead)\n`);
      }
      let initialParameters: Float32Array[] | undefined;
      if (options.weights !== undefined) {
        const read = readParameters(resolve(io.cwd, options.weights), options.weights, specs);
        if (!read.ok) return failWith(read.diagnostics, file, io, options);
        initialParameters = read.value;
      }

      const { lr, batch, seed } = settings;
      io.stderr.write(`training ${model.name}: ${compiled.parameterCount} parameters, ${steps} steps of ${batch} x ${model.context} bytes, lr ${lr}, seed ${seed}${compiled.module.config.dropout > 0 ? `, dropout ${compiled.module.config.dropout}` : ""}\n`);
      const result = await trainModel(compiled.module, corpus, {
        steps,
        lr,
        batch,
        seed,
        evalEvery,
        evalWindows: TRAIN_DEFAULTS.evalWindows,
        checkpointEvery,
        outDir: dir,
        corpusName,
        ...(resume ? { resume } : {}),
        ...(initialParameters ? { initialParameters } : {}),
        shouldStop: stop.requested,
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
        formatVersion: 2,
        model: model.name,
        file,
        backend: backend.name,
        options: { steps, lr, batch, seed, evalEvery, checkpointEvery, context: model.context, dropout: compiled.module.config.dropout },
        corpus: { path: corpusName, bytes: corpus.bytes.length, unigramEntropy: entropy },
        parameterCount: compiled.parameterCount,
        ...(resume ? { resumedFrom: resume.state.step } : {}),
        stepsRun: result.stepsRun,
        interrupted: result.interrupted,
        checkpointStep: result.checkpointStep ?? null,
        elapsedMs: result.elapsedMs,
        finalLoss: result.finalLoss,
        finalEvalLoss: result.finalEvalLoss,
        history: result.history,
      };
      writeFileAtomic(join(dir, "log.json"), new TextEncoder().encode(JSON.stringify(log, null, 2) + "\n"));
      writeFileAtomic(join(dir, "loss.svg"), new TextEncoder().encode(await renderSvg(lossCurveSpec([result], entropy))));
      if (result.failure) return failWith([result.failure], file, io, options);
      if (result.interrupted) {
        const shown = shownOf(dir);
        const where = result.checkpointStep !== undefined ? `the checkpoint of step ${result.checkpointStep} is in \`${shown}\`` : "no step completed, so no checkpoint was written";
        return failWith(
          [
            makeDiagnostic(TrainDiag.TrainingInterrupted, undefined, [model.name, result.stepsRun], {
              notes: [where],
              ...(result.checkpointStep !== undefined ? { help: `continue it with \`mhc train ${file} ${comparing ? `--compare ${wanted.join(",")}` : `--model ${model.name}`} --steps ${steps} --out ${shownOf(outRoot)} --resume\`` } : {}),
            }),
          ],
          file,
          io,
          options,
        );
      }
      io.stderr.write(`${model.name}: loss ${result.finalLoss.toFixed(4)}, eval ${result.finalEvalLoss.toFixed(4)} after ${result.stepsRun} steps (${(result.elapsedMs / 1000).toFixed(1)} s); wrote ${shownOf(dir)}/{log.json,loss.svg,checkpoint.json}\n`);
      results.push({ result, parameters: compiled.parameterCount });
    }
  } finally {
    stop.dispose();
  }
  if (comparing) {
    io.stdout.write(compareTable(results, entropy));
    writeFileAtomic(join(outRoot, "compare.svg"), new TextEncoder().encode(await renderSvg(lossCurveSpec(results.map((r) => r.result), entropy))));
    const summary = results.map(({ result, parameters }) => ({ model: result.model, finalLoss: result.finalLoss, finalEvalLoss: result.finalEvalLoss, seconds: result.elapsedMs / 1000, parameters }));
    writeFileAtomic(join(outRoot, "compare.json"), new TextEncoder().encode(JSON.stringify({ unigramEntropy: entropy, steps, ...settings, backend: backend.name, models: summary }, null, 2) + "\n"));
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
