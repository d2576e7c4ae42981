import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkFiles } from "../../compiler/driver.js";
import { readCheckpoint } from "../../compiler/train/checkpoint.js";
import { loadCorpus, type Corpus } from "../../compiler/train/corpus.js";
import { compileModel, type ModelModule } from "../../compiler/train/model.js";
import { trainModel } from "../../compiler/train/trainer.js";
import { DataOrder } from "../../compiler/train/data-order.js";
import { mulberry32 } from "../../compiler/random.js";
import { ensureGradients } from "../../runtime/tfjs/backend.js";
import { ROOT, scratchDir } from "../codegen/tfjs/helpers.js";

/*
 * Resuming: 3 steps, then 3 more from the checkpoint, give exactly (bit for bit) the
 * parameters, Adam moments, data order and losses of 6 uninterrupted steps, on the cpu
 * and the wasm backends. The model has dropout, so the training-mode masks must resume
 * too.
 */

const FIXTURES = "test/train/fixtures.mhc";
let scratch: ReturnType<typeof scratchDir>;
let model: ModelModule;
let corpus: Corpus;

beforeAll(async () => {
  await ensureGradients();
  scratch = scratchDir("resume-");
  const result = checkFiles([FIXTURES], { cwd: ROOT });
  model = (await compileModel(result, result.checked.models.get("micro_dropout")!, "test")).module;
  const loaded = loadCorpus(undefined, 16);
  if (!loaded.ok) throw new Error("corpus");
  corpus = loaded.corpus;
}, 60_000);
afterAll(() => scratch?.remove());

const OPTIONS = { lr: 3e-3, batch: 2, seed: 3, evalEvery: 0, evalWindows: 2, checkpointEvery: 0 } as const;
const checkpoint = (dir: string) => JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));

describe("the data order", () => {
  it("continues from its saved state exactly as the uninterrupted stream", () => {
    const a = DataOrder.fromSeed(5);
    for (let i = 0; i < 17; i++) a.next();
    const b = DataOrder.fromState(a.state());
    const expected = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(expected);
    // the same stream as the shared generator's
    const plain = mulberry32(5 * 2654435761 + 1);
    const c = DataOrder.fromSeed(5);
    expect(Array.from({ length: 20 }, () => c.next())).toEqual(Array.from({ length: 20 }, () => plain()));
  });
});

describe.each(["cpu", "wasm"])("resuming on %s", (backend) => {
  it("3 steps + 3 resumed steps = 6 steps, bit for bit (parameters, Adam moments, data order, losses)", async () => {
    await tf.setBackend(backend);
    const whole = join(scratch.dir, `${backend}-whole`);
    const split = join(scratch.dir, `${backend}-split`);
    const before = tf.memory().numTensors;
    await trainModel(model, corpus, { ...OPTIONS, steps: 6, outDir: whole });
    const first = await trainModel(model, corpus, { ...OPTIONS, steps: 3, outDir: split });
    expect([first.stepsRun, first.checkpointStep, checkpoint(split).step]).toEqual([3, 3, 3]);
    const read = readCheckpoint(split, "split", "micro_dropout", model.parameterSpecs);
    if (!read.ok) throw new Error(read.diagnostics.map((d) => d.message).join("\n"));
    const second = await trainModel(model, corpus, { ...OPTIONS, steps: 6, outDir: split, resume: read.value });
    expect(second.stepsRun).toBe(6);
    expect(second.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6]);

    const [a, b] = [checkpoint(whole), checkpoint(split)];
    expect(b.step).toBe(6);
    expect(b.adam).toEqual(a.adam);
    expect(b.dataOrder).toEqual(a.dataOrder);
    expect(b.history.map((h: { loss: number }) => h.loss)).toEqual(a.history.map((h: { loss: number }) => h.loss));
    for (const file of ["checkpoint-000006.safetensors", "optimizer-000006.safetensors"]) {
      expect(readFileSync(join(split, file)).equals(readFileSync(join(whole, file))), file).toBe(true);
    }
    // nothing of the three runs outlives them
    expect(tf.memory().numTensors).toBe(before);
  }, 30_000);
});
