import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainCommand, type StopSignal } from "../../compiler/cli/commands/train.js";
import { checkFiles } from "../../compiler/driver.js";
import { makeNdArray } from "../../compiler/io/ndarray.js";
import { readSafetensors, writeSafetensors } from "../../compiler/io/safetensors.js";
import { readCheckpoint } from "../../compiler/train/checkpoint.js";
import { loadCorpus, type Corpus } from "../../compiler/train/corpus.js";
import { compileModel, type ModelModule } from "../../compiler/train/model.js";
import { trainModel } from "../../compiler/train/trainer.js";
import { ensureGradients } from "../../runtime/tfjs/backend.js";
import { ROOT, scratchDir } from "../codegen/tfjs/helpers.js";
import { bufferIO } from "./buffer-io.js";

/*
 * Checkpoints on disk: a failed write leaves the last good checkpoint readable, and
 * every way a checkpoint, a weights file or a run can be wrong gives its coded error
 * (and the CLI exit 1), never an exception.
 */

const FIXTURES = "test/train/fixtures.mhc";
const MODEL = "micro_residual";
const OPTIONS = { lr: 3e-3, batch: 2, seed: 1, evalEvery: 0, evalWindows: 2, checkpointEvery: 2 } as const;
const noStop: StopSignal = { requested: () => false, dispose: () => {} };

let scratch: ReturnType<typeof scratchDir>;
let model: ModelModule;
let corpus: Corpus;
/** A checkpoint of step 2 of MODEL, written by `mhc train` (copied before each mutation). */
let good: string;


beforeAll(async () => {
  await tf.setBackend("cpu");
  await ensureGradients();
  scratch = scratchDir("checkpoint-");
  const result = checkFiles([FIXTURES], { cwd: ROOT });
  model = (await compileModel(result, result.checked.models.get(MODEL)!, "test")).module;
  const loaded = loadCorpus(undefined, 16);
  if (!loaded.ok) throw new Error("corpus");
  corpus = loaded.corpus;
  good = join(scratch.dir, "good");
  const { out, io } = bufferIO();
  expect(await trainCommand(FIXTURES, { model: MODEL, steps: 2, batch: 2, seed: 1, evalEvery: 0, backend: "cpu", out: good }, io, noStop), out.stderr).toBe(0);
}, 60_000);
afterAll(() => scratch?.remove());

/** A copy of the good checkpoint to damage. */
function copyOfGood(name: string): string {
  const dir = join(scratch.dir, name);
  cpSync(good, dir, { recursive: true });
  return dir;
}

const read = (dir: string, name = MODEL) => readCheckpoint(dir, relative(ROOT, dir), name, model.parameterSpecs);
const codes = (r: ReturnType<typeof read>) => (r.ok ? [] : r.diagnostics.map((d) => d.code));

/** Rewrites the parameter file of the checkpoint in `dir` through `edit`. */
function editParameters(dir: string, edit: (tensors: Map<string, ReturnType<typeof makeNdArray>>) => void): void {
  const path = join(dir, "checkpoint-000002.safetensors");
  const file = readSafetensors(path);
  if (!file.ok) throw new Error("unreadable");
  edit(file.value.tensors);
  expect(writeSafetensors(path, file.value.tensors, file.value.metadata).ok).toBe(true);
}

describe("writing checkpoints", () => {
  it("never damages the last good checkpoint when a later write fails or is cut short", async () => {
    const dir = copyOfGood("failed-write");
    const before = read(dir);
    if (!before.ok) throw new Error("the good checkpoint does not read");
    // A half-written file of a later step (a killed process) is not referenced by checkpoint.json...
    writeFileSync(join(dir, "checkpoint-000009.safetensors"), "half a file");
    expect(read(dir).ok).toBe(true);
    // ...and a write that fails (the target is a directory) leaves checkpoint.json at step 2.
    mkdirSync(join(dir, "optimizer-000004.safetensors", "blocker"), { recursive: true });
    const run = await trainModel(model, corpus, { ...OPTIONS, steps: 4, outDir: dir, resume: before.value });
    expect(run.failure?.code).toBe("MHC6013");
    expect(run.failure?.notes).toEqual(["the checkpoint of step 2 is still the valid one"]);
    expect(run.stepsRun).toBe(4);
    const after = read(dir);
    if (!after.ok) throw new Error(after.diagnostics.map((d) => d.message).join("; "));
    expect(after.value.state.step).toBe(2);
    after.value.parameters.forEach((p, i) => expect(Buffer.from(p.buffer).equals(Buffer.from(before.value.parameters[i]!.buffer))).toBe(true));
  });
});

describe("reading checkpoints and weights: coded errors", () => {
  it("MHC6024 without a checkpoint, MHC6021 for JSON that is not one or disagrees with its files, MHC6022 for another model", () => {
    expect(codes(read(join(scratch.dir, "nowhere")))).toEqual(["MHC6024"]);
    const notJson = copyOfGood("not-json");
    writeFileSync(join(notJson, "checkpoint.json"), "{ step: 2");
    expect(codes(read(notJson))).toEqual(["MHC6021"]);
    const noState = copyOfGood("no-state");
    const state = JSON.parse(readFileSync(join(noState, "checkpoint.json"), "utf8"));
    delete state.dataOrder;
    writeFileSync(join(noState, "checkpoint.json"), JSON.stringify(state));
    const r = read(noState);
    expect(codes(r)).toEqual(["MHC6021"]);
    expect(r.ok ? "" : r.diagnostics[0]!.message).toContain("`dataOrder.state`");
    const stepMismatch = copyOfGood("step-mismatch");
    const s2 = JSON.parse(readFileSync(join(stepMismatch, "checkpoint.json"), "utf8"));
    writeFileSync(join(stepMismatch, "checkpoint.json"), JSON.stringify({ ...s2, step: 3, adam: { ...s2.adam, step: 3 } }));
    expect(codes(read(stepMismatch))).toEqual(["MHC6021"]);
    expect(codes(read(good, "micro_hc"))).toEqual(["MHC6022"]);
  });

  it("MHC6009, MHC6010, MHC6011 and MHC6007 for a missing, extra, mis-shaped or non-finite tensor", () => {
    const missing = copyOfGood("missing");
    editParameters(missing, (t) => t.delete("layers.0.1.mlp.w_gate"));
    expect(codes(read(missing))).toEqual(["MHC6009"]);
    const extra = copyOfGood("extra");
    editParameters(extra, (t) => t.set("layers.0.1.mlp.w_up", makeNdArray("f32", [2], [1, 2])));
    expect(codes(read(extra))).toEqual(["MHC6010"]);
    const shape = copyOfGood("shape");
    editParameters(shape, (t) => {
      const w = t.get("layers.0.0.attn.wq")!;
      t.set("layers.0.0.attn.wq", makeNdArray("f32", [8, 32], w.data));
    });
    const r = read(shape);
    expect(codes(r)).toEqual(["MHC6011"]);
    expect(r.ok ? "" : r.diagnostics[0]!.message).toBe("tensor `layers.0.0.attn.wq` in `" + relative(ROOT, join(shape, "checkpoint-000002.safetensors")) + "` has shape [8, 32], expected [16, 16]");
    const nan = copyOfGood("nan");
    editParameters(nan, (t) => (t.get("final_norm.weight")!.data[3] = NaN));
    expect(codes(read(nan))).toEqual(["MHC6007"]);
  });
});

describe("mhc train with bad input: coded errors, exit 1", () => {
  const run = async (options: Record<string, unknown>) => {
    const { out, io } = bufferIO();
    const code = await trainCommand(FIXTURES, { model: MODEL, steps: 3, backend: "cpu", evalEvery: 0, ...options }, io, noStop);
    return { code, stderr: out.stderr };
  };

  it("rejects a resume with another batch size (MHC6022) or from an empty directory (MHC6024)", async () => {
    const dir = copyOfGood("cli-resume");
    const other = await run({ out: dir, resume: true, batch: 4 });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("error[MHC6022]: cannot resume from `" + relative(ROOT, dir) + "`: it was trained with `--batch 2`, not 4");
    const empty = await run({ resume: join(scratch.dir, "empty") });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("error[MHC6024]");
    // the same flags as the checkpoint's are fine
    const same = await run({ out: dir, resume: true, batch: 2, seed: 1 });
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8")).step).toBe(3);
  });

  it("rejects --weights with a mis-shaped tensor (MHC6011) and starts from good weights", async () => {
    const bad = copyOfGood("cli-weights");
    editParameters(bad, (t) => t.set("embed.weight", makeNdArray("f32", [16, 256], t.get("embed.weight")!.data)));
    const wrong = await run({ out: join(scratch.dir, "w1"), weights: relative(ROOT, join(bad, "checkpoint-000002.safetensors")) });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/error\[MHC6011\]: tensor `embed\.weight` in `.*checkpoint-000002\.safetensors` has shape \[16, 256\], expected \[256, 16\]/);
    const ok = await run({ out: join(scratch.dir, "w2"), weights: relative(ROOT, join(good, "checkpoint-000002.safetensors")), steps: 1 });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("rejects a non-UTF-8 corpus (MHC6016)", async () => {
    const path = join(scratch.dir, "latin1.txt");
    const bytes = Buffer.alloc(2000, 0x61);
    bytes[1234] = 0xe9;
    writeFileSync(path, bytes);
    const r = await run({ data: relative(ROOT, path), out: join(scratch.dir, "latin") });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[MHC6016]");
    expect(r.stderr).toContain("offset 1234");
  });

  it("stops when training diverges (MHC6023), never saving non-finite parameters, keeping the last checkpoint", async () => {
    const dir = copyOfGood("diverged");
    const start = read(dir);
    if (!start.ok) throw new Error("unreadable");
    // Parameters whose squares overflow float32: the update of step 1 or its loss is not finite.
    const huge = start.value.parameters.map((p) => new Float32Array(p.length).fill(3e38));
    const run = await trainModel(model, corpus, { ...OPTIONS, steps: 4, outDir: dir, initialParameters: huge });
    expect(run.failure?.code).toBe("MHC6023");
    expect(run.failure?.message).toMatch(/^training `micro_residual` diverged at step [12]: /);
    expect(run.stepsRun).toBeLessThan(3);
    const after = read(dir);
    if (!after.ok) throw new Error("the last checkpoint was damaged");
    expect(after.value.state.step).toBe(2);
    after.value.parameters.forEach((p, i) => expect(Buffer.from(p.buffer).equals(Buffer.from(start.value.parameters[i]!.buffer))).toBe(true));
  });
});
