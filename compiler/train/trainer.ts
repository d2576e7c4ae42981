import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { makeNdArray } from "../io/ndarray.js";
import { writeFileAtomic } from "../io/ndarray.js";
import { encodeSafetensors } from "../io/safetensors.js";
import { evalWindows, mulberry32, sampleWindows, type Corpus } from "./corpus.js";
import type { ModelModule } from "./model.js";

export interface TrainOptions {
  readonly steps: number;
  readonly lr: number;
  readonly batch: number;
  readonly seed: number;
  /** Eval loss every this many steps (and after the last); 0: only at the end. */
  readonly evalEvery: number;
  /** Eval windows (each context + 1 bytes from the held-out tail). */
  readonly evalWindows: number;
  /** Checkpoint every this many steps (and after the last) when `outDir` is set; 0: only at the end. */
  readonly checkpointEvery: number;
  readonly outDir?: string;
  /** Called after every step (progress display). */
  readonly onStep?: (record: StepRecord, totalSteps: number) => void;
  /** Polled between steps; true stops training after a final checkpoint (Ctrl-C). */
  readonly shouldStop?: () => boolean;
}

export interface StepRecord {
  readonly step: number;
  readonly loss: number;
  readonly evalLoss?: number;
  readonly stepMs: number;
  readonly tokensPerSecond: number;
  readonly elapsedMs: number;
}

export interface TrainResult {
  readonly model: string;
  readonly history: readonly StepRecord[];
  readonly finalLoss: number;
  readonly finalEvalLoss: number;
  readonly elapsedMs: number;
  readonly stepsRun: number;
  readonly interrupted: boolean;
  /** Tensors alive after each step (constant from the second step on: no leaks). */
  readonly tensorsAfterStep: readonly number[];
  /** The trained parameters as float32 arrays, in parameterSpecs order. */
  readonly parameters: readonly (readonly [string, { shape: number[]; data: Float32Array }])[];
}

/** Writes `checkpoint.safetensors` then `checkpoint.json` (each atomically; the JSON names the step). */
export function writeCheckpoint(dir: string, parameters: readonly (readonly [string, { shape: number[]; data: Float32Array }])[], state: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const bytes = encodeSafetensors(
    parameters.map(([name, t]) => [name, makeNdArray("f32", t.shape, t.data)] as const),
    { format: "mhc-tfjs", step: String(state["step"] ?? 0) },
  );
  const a = writeFileAtomic(join(dir, "checkpoint.safetensors"), bytes);
  if (!a.ok) throw new Error(`cannot write ${join(dir, "checkpoint.safetensors")}: ${a.reason}`);
  const b = writeFileAtomic(join(dir, "checkpoint.json"), new TextEncoder().encode(JSON.stringify(state, null, 2) + "\n"));
  if (!b.ok) throw new Error(`cannot write ${join(dir, "checkpoint.json")}: ${b.reason}`);
}

function snapshot(specs: ModelModule["parameterSpecs"], vars: Record<string, tf.Variable>): [string, { shape: number[]; data: Float32Array }][] {
  return specs.map((s) => {
    const v = vars[s.name]!;
    return [s.name, { shape: [...v.shape], data: v.dataSync() as Float32Array }];
  });
}

/**
 * Trains a generated model with Adam on byte windows of the corpus (context + 1 bytes
 * per row: the model predicts bytes 1..context from 0..context-1). Deterministic for a
 * seed on a backend: the init, the batch order and the eval set depend only on it.
 * Every tensor it makes is disposed: `tf.memory().numTensors` is the same after every
 * step from the second (Adam's moments appear in the first).
 */
export async function trainModel(m: ModelModule, corpus: Corpus, options: TrainOptions): Promise<TrainResult> {
  const window = m.config.context + 1;
  const random = mulberry32(options.seed * 2654435761 + 1);
  const init = m.initParameters(options.seed);
  const vars: Record<string, tf.Variable> = {};
  for (const s of m.parameterSpecs) vars[s.name] = tf.variable(init[s.name]!, true);
  tf.dispose(Object.values(init));
  const varList = Object.values(vars);
  const optimizer = tf.train.adam(options.lr);
  const evalSet = evalWindows(corpus.eval, options.evalWindows, window);
  const evalLoss = (): number => {
    // In chunks of the training batch size (bounded memory).
    let total = 0;
    for (let r = 0; r < evalSet.rows; r += options.batch) {
      const rows = Math.min(options.batch, evalSet.rows - r);
      const value = tf.tidy(() => {
        const tokens = tf.tensor2d(evalSet.data.subarray(r * window, (r + rows) * window), [rows, window], "int32");
        return m.loss(vars, tokens);
      });
      total += value.dataSync()[0]! * rows;
      value.dispose();
    }
    return total / evalSet.rows;
  };

  const history: StepRecord[] = [];
  const tensorsAfterStep: number[] = [];
  const started = performance.now();
  const state = (step: number) => ({ format: "mhc-train-checkpoint", formatVersion: 1, model: m.model, step, seed: options.seed, lr: options.lr, batch: options.batch, history });
  let interrupted = false;
  let step = 0;
  try {
    for (step = 1; step <= options.steps; step++) {
      const t0 = performance.now();
      const batch = tf.tensor2d(sampleWindows(corpus.train, options.batch, window, random), [options.batch, window], "int32");
      const cost = optimizer.minimize(() => m.loss(vars, batch), true, varList);
      const loss = cost!.dataSync()[0]!;
      cost!.dispose();
      batch.dispose();
      const stepMs = performance.now() - t0;
      const last = step === options.steps || (options.shouldStop?.() ?? false);
      const doEval = last || (options.evalEvery > 0 && step % options.evalEvery === 0);
      const record: StepRecord = {
        step,
        loss,
        ...(doEval ? { evalLoss: evalLoss() } : {}),
        stepMs,
        tokensPerSecond: (options.batch * m.config.context) / (stepMs / 1000),
        elapsedMs: performance.now() - started,
      };
      history.push(record);
      tensorsAfterStep.push(tf.memory().numTensors);
      options.onStep?.(record, options.steps);
      if (!Number.isFinite(loss)) throw new Error(`${m.model}: the loss became ${loss} at step ${step}; try a smaller --lr`);
      if (options.outDir && (last || (options.checkpointEvery > 0 && step % options.checkpointEvery === 0))) {
        writeCheckpoint(options.outDir, snapshot(m.parameterSpecs, vars), state(step));
      }
      if (last && step < options.steps) {
        interrupted = true;
        break;
      }
    }
    const stepsRun = Math.min(step, options.steps);
    const parameters = snapshot(m.parameterSpecs, vars);
    const lastRecord = history[history.length - 1];
    return {
      model: m.model,
      history,
      finalLoss: lastRecord?.loss ?? NaN,
      finalEvalLoss: [...history].reverse().find((h) => h.evalLoss !== undefined)?.evalLoss ?? NaN,
      elapsedMs: performance.now() - started,
      stepsRun,
      interrupted,
      tensorsAfterStep,
      parameters,
    };
  } finally {
    optimizer.dispose();
    tf.dispose(varList);
  }
}
