import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainCommand, type StopSignal } from "../../compiler/cli/commands/train.js";
import { checkFiles } from "../../compiler/driver.js";
import { readCheckpoint } from "../../compiler/train/checkpoint.js";
import { loadCorpus } from "../../compiler/train/corpus.js";
import { compileModel } from "../../compiler/train/model.js";
import { trainModel } from "../../compiler/train/trainer.js";
import { ensureGradients } from "../../runtime/tfjs/backend.js";
import { ROOT, scratchDir } from "../codegen/tfjs/helpers.js";
import { bufferIO } from "./buffer-io.js";

/*
 * Ctrl-C: training stops after the step in progress, writes that step's checkpoint,
 * reports MHC6020 and exits 1; the checkpoint then resumes. Once in process (a stop
 * request between steps) and once through the real command line (`dist/mhc.cjs`, built
 * by the test suite's global setup) receiving SIGINT.
 */

const FIXTURES = "test/train/fixtures.mhc";
const bundle = join(ROOT, "dist", "mhc.cjs");
let scratch: ReturnType<typeof scratchDir>;


beforeAll(async () => {
  await tf.setBackend("cpu");
  await ensureGradients();
  scratch = scratchDir("interrupt-");
});
afterAll(() => scratch?.remove());

describe("a stop request between steps", () => {
  it("writes the checkpoint of the last completed step even between scheduled checkpoints", async () => {
    const result = checkFiles([FIXTURES], { cwd: ROOT });
    const { module } = await compileModel(result, result.checked.models.get("micro_residual")!, "test");
    const loaded = loadCorpus(undefined, 16);
    if (!loaded.ok) throw new Error("corpus");
    const dir = join(scratch.dir, "in-process");
    let polls = 0;
    // Polled before each step and after each completed one: true after step 3.
    const run = await trainModel(module, loaded.corpus, { steps: 50, lr: 3e-3, batch: 2, seed: 0, evalEvery: 0, evalWindows: 2, checkpointEvery: 0, outDir: dir, shouldStop: () => ++polls > 6 });
    expect([run.interrupted, run.stepsRun, run.checkpointStep]).toEqual([true, 3, 3]);
    const read = readCheckpoint(dir, "in-process", "micro_residual", module.parameterSpecs);
    expect(read.ok && read.value.state.step).toBe(3);
  }, 60_000);
});

describe("SIGINT to `mhc train`", () => {
  it.skipIf(!existsSync(bundle))("stops with MHC6020 and exit 1, leaving a checkpoint of the last step that resumes", async () => {
    const dir = join(scratch.dir, "cli");
    const args = [bundle, "train", FIXTURES, "--model", "micro_residual", "--steps", "100000", "--batch", "2", "--eval-every", "0", "--checkpoint-every", "2", "--backend", "cpu", "--out", dir];
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // Wait for the first scheduled checkpoint (step 2): training is under way.
    const deadline = Date.now() + 45_000;
    while (!existsSync(join(dir, "checkpoint.json")) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, "checkpoint.json")), stderr).toBe(true);
    child.kill("SIGINT");
    expect(await exited, stderr).toBe(1);

    const reported = /error\[MHC6020\]: training `micro_residual` was interrupted after step (\d+)/.exec(stderr);
    expect(reported, stderr).not.toBeNull();
    const step = Number(reported![1]);
    expect(stderr).toContain(`the checkpoint of step ${step} is in \`${relative(ROOT, dir)}\``);
    const state = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));
    expect(state.step).toBe(step);
    expect(existsSync(join(dir, state.files.parameters)) && existsSync(join(dir, state.files.optimizer))).toBe(true);

    // The checkpoint continues: two more steps.
    const { out, io } = bufferIO();
    const noStop: StopSignal = { requested: () => false, dispose: () => {} };
    const code = await trainCommand(FIXTURES, { model: "micro_residual", steps: step + 2, evalEvery: 0, backend: "cpu", out: dir, resume: true }, io, noStop);
    expect(code, out.stderr).toBe(0);
    expect(out.stderr).toContain(`resuming micro_residual from the checkpoint of step ${step}`);
    const resumed = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));
    expect([resumed.step, resumed.history.length, resumed.options.batch]).toEqual([step + 2, step + 2, 2]);
  }, 90_000);
});
