import * as tf from "@tensorflow/tfjs-core";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { makeDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { Diag } from "../diagnostics/messages.js";
import { Adam, ADAM_DEFAULTS } from "./adam.js";
import { writeCheckpoint, type Checkpoint, type CheckpointState, type HistoryRecord, type RunOptions, type StepOptions } from "./checkpoint.js";
import { evalWindows, type Corpus } from "./corpus.js";
import { DataOrder } from "./data-order.js";
import { TrainDiag } from "./diagnostics.js";
import type { ModelModule } from "./model.js";

export interface TrainOptions extends StepOptions {
  readonly outDir?: string;
  /** How the corpus is named in the checkpoint (default: `corpus.path`). */
  readonly corpusName?: string;
  /** Continue this checkpoint (its options must be these; the CLI checks). */
  readonly resume?: Checkpoint;
  /** Start from these parameters (parameterSpecs order) instead of the seeded init. */
  readonly initialParameters?: readonly Float32Array[];
  /** Called after every step (progress display). */
  readonly onStep?: (record: StepRecord, totalSteps: number) => void;
  /** Polled between steps; true stops training after a checkpoint of the last completed step (Ctrl-C). */
  readonly shouldStop?: () => boolean;
}

export type StepRecord = HistoryRecord;

export interface TrainResult {
  readonly model: string;
  /** Every step's record, those of a resumed checkpoint included. */
  readonly history: readonly StepRecord[];
  readonly finalLoss: number;
  readonly finalEvalLoss: number;
  /** Training time of all the steps (resumed sessions included). */
  readonly elapsedMs: number;
  /** The last completed step. */
  readonly stepsRun: number;
  /** Stopped by `shouldStop` before `steps`. */
  readonly interrupted: boolean;
  /** Why training stopped early, other than an interruption (a non-finite loss, a failed checkpoint write). */
  readonly failure?: Diagnostic;
  /** The step of the newest checkpoint on disk after the run (written by it or resumed from), if any. */
  readonly checkpointStep?: number;
  /** Tensors alive after each step of this session (constant from the second step on: no leaks). */
  readonly tensorsAfterStep: readonly number[];
  /** The parameters after the last completed step, float32, in parameterSpecs order. */
  readonly parameters: readonly (readonly [string, { shape: number[]; data: Float32Array }])[];
}

/** A hex SHA-256 of the corpus, so that a resumed run can tell it trains on the same text. */
export function corpusDigest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Lets pending events (a SIGINT handler) run between steps: the steps themselves are synchronous. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Trains a generated model with Adam on byte windows of the corpus (context + 1 bytes
 * per row: the model predicts bytes 1..context from 0..context-1), in training mode
 * (dropout, when the model has some, seeded by the seed and the step). Deterministic for
 * a seed on a backend: the init, the batch order, the dropout masks and the eval set
 * depend only on it, and a run resumed from a checkpoint continues exactly as the
 * uninterrupted run would have. Every tensor it makes is disposed:
 * `tf.memory().numTensors` is the same after every step from the second.
 */
export async function trainModel(m: ModelModule, corpus: Corpus, options: TrainOptions): Promise<TrainResult> {
  const window = m.config.context + 1;
  const resume = options.resume;
  const order = resume ? DataOrder.fromState(resume.state.dataOrder.state) : DataOrder.fromSeed(options.seed);
  const start = resume?.parameters ?? options.initialParameters;
  const vars: Record<string, tf.Variable> = {};
  if (start) {
    m.parameterSpecs.forEach((s, i) => (vars[s.name] = tf.tidy(() => tf.variable(tf.tensor(start[i]!, [...s.shape], "float32"), true))));
  } else {
    const init = m.initParameters(options.seed);
    for (const s of m.parameterSpecs) vars[s.name] = tf.variable(init[s.name]!, true);
    tf.dispose(Object.values(init));
  }
  const varList = m.parameterSpecs.map((s) => vars[s.name]!);
  const adamConfig = { lr: options.lr, ...ADAM_DEFAULTS };
  const adam = new Adam(varList, adamConfig, resume?.adam);
  const evalSet = evalWindows(corpus.eval, options.evalWindows, window);
  const evalLoss = (): number => {
    // In chunks of the training batch size (bounded memory), in eval mode.
    let total = 0;
    for (let r = 0; r < evalSet.rows; r += options.batch) {
      const rows = Math.min(options.batch, evalSet.rows - r);
      const value = tf.tidy(() => m.loss(vars, tf.tensor2d(evalSet.data.subarray(r * window, (r + rows) * window), [rows, window], "int32")));
      total += value.dataSync()[0]! * rows;
      value.dispose();
    }
    return total / evalSet.rows;
  };

  const runOptions: RunOptions = {
    steps: options.steps,
    lr: options.lr,
    batch: options.batch,
    seed: options.seed,
    evalEvery: options.evalEvery,
    evalWindows: options.evalWindows,
    checkpointEvery: options.checkpointEvery,
    context: m.config.context,
    dropout: m.config.dropout,
  };
  const corpusRecord = { path: options.corpusName ?? corpus.path, bytes: corpus.bytes.length, sha256: resume?.state.corpus.sha256 ?? corpusDigest(corpus.bytes) };
  const history: StepRecord[] = [...(resume?.state.history ?? [])];
  const tensorsAfterStep: number[] = [];
  const priorMs = resume?.state.elapsedMs ?? 0;
  const started = performance.now();
  const elapsed = () => priorMs + performance.now() - started;
  let completed = resume?.state.step ?? 0;
  let checkpointStep: number | undefined = resume ? completed : undefined;
  let failure: Diagnostic | undefined;
  let interrupted = false;

  const snapshot = () => varList.map((v) => (v.dataSync() as Float32Array).slice());
  const diverged = (step: number, what: string): Diagnostic =>
    makeDiagnostic(TrainDiag.TrainingDiverged, undefined, [m.model, step, what], {
      notes: [checkpointStep === undefined ? "no checkpoint was written before it" : `the checkpoint of step ${checkpointStep} is intact`],
      help: `try a smaller learning rate than --lr ${options.lr}`,
    });
  const saveCheckpoint = (): boolean => {
    if (!options.outDir || checkpointStep === completed) return true;
    const parameters = snapshot();
    // A finite loss can still come with a non-finite update; such parameters are never saved.
    const bad = parameters.findIndex((p) => p.some((v) => !Number.isFinite(v)));
    if (bad >= 0) {
      failure = diverged(completed, `\`${m.parameterSpecs[bad]!.name}\` is no longer finite`);
      return false;
    }
    mkdirSync(options.outDir, { recursive: true });
    const state: Omit<CheckpointState, "files"> = {
      format: "mhc-train-checkpoint",
      formatVersion: 2,
      model: m.model,
      step: completed,
      adam: { step: adam.step, ...adamConfig },
      dataOrder: { generator: "mulberry32", state: order.state() },
      options: runOptions,
      corpus: corpusRecord,
      elapsedMs: elapsed(),
      history,
    };
    const written = writeCheckpoint(options.outDir, m.parameterSpecs, { state, parameters, adam: adam.state() });
    if (!written.ok) {
      failure = makeDiagnostic(Diag.CannotWrite, undefined, [written.path, written.reason], {
        notes: [checkpointStep === undefined ? "no checkpoint of this run was written" : `the checkpoint of step ${checkpointStep} is still the valid one`],
      });
      return false;
    }
    checkpointStep = completed;
    return true;
  };

  try {
    for (let step = completed + 1; step <= options.steps; step++) {
      if (options.shouldStop?.()) {
        interrupted = true;
        break;
      }
      const t0 = performance.now();
      const batch = tf.tensor2d(order.windows(corpus.train, options.batch, window), [options.batch, window], "int32");
      const { value, grads } = tf.variableGrads(() => m.loss(vars, batch, { training: true, seed: `${options.seed}:${step}` }), varList);
      const loss = value.dataSync()[0]!;
      if (!Number.isFinite(loss)) {
        // Nothing of this step is kept: the parameters stay those of the last completed step.
        tf.dispose([value, batch, Object.values(grads)]);
        failure = diverged(step, `the loss is ${loss}`);
        break;
      }
      adam.apply(varList.map((v) => grads[v.name]));
      tf.dispose([value, batch, Object.values(grads)]);
      const stepMs = performance.now() - t0;
      completed = step;
      const last = step === options.steps;
      const record: StepRecord = {
        step,
        loss,
        ...(last || (options.evalEvery > 0 && step % options.evalEvery === 0) ? { evalLoss: evalLoss() } : {}),
        stepMs,
        tokensPerSecond: (options.batch * m.config.context) / (stepMs / 1000),
        elapsedMs: elapsed(),
      };
      history.push(record);
      tensorsAfterStep.push(tf.memory().numTensors);
      options.onStep?.(record, options.steps);
      if (last || (options.checkpointEvery > 0 && step % options.checkpointEvery === 0)) {
        if (!saveCheckpoint()) break;
      }
      await yieldToEventLoop();
      if (!last && options.shouldStop?.()) {
        interrupted = true;
        break;
      }
    }
    if (interrupted) saveCheckpoint();
    const lastRecord = history[history.length - 1];
    return {
      model: m.model,
      history,
      finalLoss: lastRecord?.loss ?? NaN,
      finalEvalLoss: [...history].reverse().find((h) => h.evalLoss !== undefined)?.evalLoss ?? NaN,
      elapsedMs: elapsed(),
      stepsRun: completed,
      interrupted,
      ...(failure ? { failure } : {}),
      ...(checkpointStep !== undefined ? { checkpointStep } : {}),
      tensorsAfterStep,
      parameters: m.parameterSpecs.map((s, i) => [s.name, { shape: [...s.shape], data: (varList[i]!.dataSync() as Float32Array).slice() }] as const),
    };
  } finally {
    adam.dispose();
    tf.dispose(varList);
  }
}
