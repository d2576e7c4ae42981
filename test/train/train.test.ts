import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkFiles } from "../../compiler/driver.js";
import { corpusFromBytes, defaultCorpusPath, loadCorpus, minimumCorpusBytes, unigramEntropy } from "../../compiler/train/corpus.js";
import { TrainDiag } from "../../compiler/train/diagnostics.js";
import { compileModel } from "../../compiler/train/model.js";
import { trainModel } from "../../compiler/train/trainer.js";
import { initCommand } from "../../compiler/cli/commands/init.js";
import { trainCommand } from "../../compiler/cli/commands/train.js";
import { readSafetensors } from "../../compiler/io/safetensors.js";
import { ensureGradients } from "../../runtime/tfjs/backend.js";
import { ROOT, scratchDir } from "../codegen/tfjs/helpers.js";
import { bufferIO } from "./buffer-io.js";

const FIXTURES = "test/train/fixtures.mhc";


beforeAll(async () => {
  await tf.setBackend("cpu");
  await ensureGradients();
});

describe("corpus", () => {
  it("bundles a license-clean UTF-8 corpus whose byte entropy is about 3.05 nats", () => {
    const loaded = loadCorpus(undefined, 128);
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.corpus.bytes.length).toBeGreaterThan(200_000);
    expect(unigramEntropy(loaded.corpus.bytes)).toBeCloseTo(3.049, 2);
    expect(readFileSync(defaultCorpusPath(), "utf8").length).toBe(loaded.corpus.bytes.length); // ASCII
  });

  it("rejects a corpus too small for the context and a non-UTF-8 corpus with coded diagnostics", () => {
    const small = corpusFromBytes("small.txt", new TextEncoder().encode("hello world"), 16);
    expect(small.ok).toBe(false);
    if (!small.ok) {
      expect(small.diagnostic.code).toBe(TrainDiag.CorpusTooSmall.code);
      expect(small.diagnostic.message).toContain(`at least ${minimumCorpusBytes(16)}`);
    }
    const bytes = new Uint8Array(1000).fill(0x61);
    bytes[500] = 0xff;
    const latin = corpusFromBytes("latin1.txt", bytes, 16);
    expect(latin.ok).toBe(false);
    if (!latin.ok) {
      expect(latin.diagnostic.code).toBe(TrainDiag.CorpusNotUtf8.code);
      expect(latin.diagnostic.message).toContain("offset 500");
    }
  });

  it("mhc train reports a bad corpus as a user error (exit 1) with the code", async () => {
    const { dir, remove } = scratchDir("corpus-");
    try {
      const path = join(dir, "tiny.txt");
      (await import("node:fs")).writeFileSync(path, "too short");
      const { out, io } = bufferIO();
      const code = await trainCommand(FIXTURES, { model: "micro_residual", data: path, steps: 1, backend: "cpu", out: dir }, io);
      expect(code).toBe(1);
      expect(out.stderr).toContain(TrainDiag.CorpusTooSmall.code);
    } finally {
      remove();
    }
  });
});

describe("training", () => {
  it("lowers the loss over 20 Adam steps on the corpus, with no tensor leaks", async () => {
    const result = checkFiles([FIXTURES], { cwd: ROOT });
    const compiled = await compileModel(result, result.checked.models.get("micro_residual")!, "test");
    const loaded = loadCorpus(undefined, 16);
    if (!loaded.ok) throw new Error("corpus");
    const before = tf.memory().numTensors;
    const run = await trainModel(compiled.module, loaded.corpus, { steps: 20, lr: 1e-2, batch: 4, seed: 1, evalEvery: 10, evalWindows: 4, checkpointEvery: 0 });
    const first = run.history.slice(0, 3).reduce((a, h) => a + h.loss, 0) / 3;
    const last = run.history.slice(-3).reduce((a, h) => a + h.loss, 0) / 3;
    expect(first).toBeGreaterThan(5.3); // ~ln 256 at init
    expect(last).toBeLessThan(first - 1);
    expect(run.finalEvalLoss).toBeLessThan(first - 1);
    // Adam's moments appear in step 1; from then on the count is flat.
    expect(new Set(run.tensorsAfterStep.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  }, 30_000);

  it("mhc train writes the log, the plot and an atomic checkpoint with the documented names", async () => {
    const { dir, remove } = scratchDir("train-");
    try {
      const { out, io } = bufferIO();
      const code = await trainCommand(FIXTURES, { model: "micro_hc", steps: 3, batch: 2, backend: "cpu", out: dir, evalEvery: 0, checkpointEvery: 2 }, io);
      expect(code, out.stderr).toBe(0);
      const log = JSON.parse(readFileSync(join(dir, "log.json"), "utf8"));
      expect(log.history).toHaveLength(3);
      expect(readFileSync(join(dir, "loss.svg"), "utf8")).toContain("<svg");
      const state = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"));
      expect(state).toMatchObject({ format: "mhc-train-checkpoint", formatVersion: 2, model: "micro_hc", step: 3, files: { parameters: "checkpoint-000003.safetensors", optimizer: "optimizer-000003.safetensors" } });
      expect(state.adam).toMatchObject({ step: 3, beta1: 0.9, beta2: 0.999 });
      expect(Number.isInteger(state.dataOrder.state)).toBe(true);
      const ckpt = readSafetensors(join(dir, state.files.parameters));
      expect(ckpt.ok).toBe(true);
      if (ckpt.ok) expect([...ckpt.value.tensors.keys()]).toContain("layers.0.1.conn.phi_res");
      const adam = readSafetensors(join(dir, state.files.optimizer));
      if (!adam.ok) throw new Error("optimizer file unreadable");
      expect([...adam.value.tensors.keys()]).toContain("adam.v.layers.0.1.conn.phi_res");
      // only the files of the newest checkpoint are kept
      expect(readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort()).toEqual(["checkpoint-000003.safetensors", "optimizer-000003.safetensors"]);
    } finally {
      remove();
    }
  }, 30_000);
});

describe("mhc init", () => {
  it("writes the documented names, the same bytes for the same seed and different ones for another", async () => {
    const { dir, remove } = scratchDir("init-");
    try {
      const run = async (seed: number, name: string) => {
        const { out, io } = bufferIO();
        const code = await initCommand(FIXTURES, { model: "micro_mhc", out: join(dir, name), seed }, io);
        expect(code, out.stderr).toBe(0);
        return readFileSync(join(dir, name));
      };
      const a = await run(7, "a.safetensors");
      const b = await run(7, "b.safetensors");
      const c = await run(8, "c.safetensors");
      expect(Buffer.compare(a, b)).toBe(0);
      expect(Buffer.compare(a, c)).not.toBe(0);
      const file = readSafetensors(join(dir, "a.safetensors"));
      if (!file.ok) throw new Error("unreadable");
      const names = [...file.value.tensors.keys()];
      expect(names.slice(0, 3)).toEqual(["embed.weight", "expand.scale", "layers.0.0.norm.weight"]);
      for (const n of ["layers.0.0.attn.wq", "layers.0.0.attn.wk", "layers.0.1.mlp.w_in", "layers.0.1.mlp.w_out", "layers.1.2.norm.weight", "layers.1.2.conn.phi_pre", "layers.1.2.conn.alpha", "layers.1.2.conn.bias_res", "head.phi", "head.alpha", "head.bias", "final_norm.weight", "lm_head.weight"]) expect(names).toContain(n);
      expect(file.value.tensors.get("layers.0.0.attn.wk")!.shape).toEqual([16, 8]); // kv_heads = 2 of 4
      expect(file.value.tensors.get("head.phi")!.shape).toEqual([48, 3]);
      // the res bias init is evaluated per sublayer index (mhc: (eye(n) - 1) * 8 does not depend on it)
      expect(Array.from(file.value.tensors.get("layers.1.2.conn.bias_res")!.data)).toEqual([0, -8, -8, -8, 0, -8, -8, -8, 0]);
    } finally {
      remove();
    }
  }, 30_000);
});
