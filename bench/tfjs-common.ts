/**
 * Shared parts of the TensorFlow.js benchmarks: the machine description, medians, timing,
 * and the training step that `mhc train` makes (forward, backward, Adam) on a generated model.
 */
import * as tf from "@tensorflow/tfjs-core";
import { cpus, hostname, loadavg } from "node:os";
import { Adam, ADAM_DEFAULTS } from "../compiler/train/adam.js";
import { DataOrder } from "../compiler/train/data-order.js";
import type { ModelModule } from "../compiler/train/model.js";

export function machine(): Record<string, unknown> {
  return {
    host: hostname(),
    description: `${cpus().length}-core VM`,
    cpus: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    // Other work on the machine slows every variant alike; runs are interleaved.
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Byte windows of the corpus, `batch` rows of `window` bytes, from a seeded data order. */
export function batches(text: Uint8Array, count: number, batch: number, window: number, seed = 0): Int32Array[] {
  const order = DataOrder.fromSeed(seed);
  return Array.from({ length: count }, () => order.windows(text, batch, window));
}

/** What one step took: wall-clock ms, and CPU ms of this process (user + system, all threads). */
export interface StepTime {
  readonly ms: number;
  readonly cpuMs: number;
}

/**
 * Times `f`. On a machine shared with other work the wall-clock time of a step grows
 * with the load while its CPU time barely moves, so both are reported.
 */
export function timed<T>(f: () => T): StepTime & { value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000, value };
}

/** One training step. */
export interface StepRunner {
  /** Runs one step on the tokens [batch, window]; its times and loss. */
  step(tokens: Int32Array): StepTime & { loss: number };
  dispose(): void;
}

export function generatedStepRunner(m: ModelModule, batch: number, lr: number, seed = 0): StepRunner {
  const init = m.initParameters(seed);
  const vars = m.parameterSpecs.map((s) => tf.variable(init[s.name]!, true));
  tf.dispose(Object.values(init));
  const byName = Object.fromEntries(m.parameterSpecs.map((s, i) => [s.name, vars[i]!]));
  const adam = new Adam(vars, { lr, ...ADAM_DEFAULTS });
  const window = m.config.context + 1;
  return {
    step(tokens) {
      const { ms, cpuMs, value: loss } = timed(() => {
        const batchTensor = tf.tensor2d(tokens, [batch, window], "int32");
        const { value, grads } = tf.variableGrads(() => m.loss(byName, batchTensor, { training: true, seed: 1 }), vars);
        adam.apply(vars.map((v) => grads[v.name]));
        const result = value.dataSync()[0]!;
        tf.dispose([value, batchTensor, Object.values(grads)]);
        return result;
      });
      return { ms, cpuMs, loss };
    },
    dispose() {
      adam.dispose();
      tf.dispose(vars);
    },
  };
}

/** The kernels one step dispatches (tf.profile; independent of the machine's load). */
export async function kernelsPerStep(runner: StepRunner, tokens: Int32Array): Promise<number> {
  const info = await tf.profile(() => {
    runner.step(tokens);
  });
  return info.kernels.length;
}
