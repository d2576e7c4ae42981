import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { generateTfjs, tfReferences, vettedKernels } from "../../../compiler/codegen/tfjs/index.js";
import { TF_UTILITIES, VETTED_FUNCTIONS, PSEUDO_KERNELS } from "../../../compiler/codegen/tfjs/vetted-ops.js";
import { checkFiles } from "../../../compiler/driver.js";
import { compileModel, type ModelModule } from "../../../compiler/train/model.js";
import { ensureGradients } from "../../../runtime/tfjs/backend.js";
import { COMPILER_VERSION, ROOT } from "./helpers.js";

const FIXTURES = "test/train/fixtures.mhc";

beforeAll(async () => {
  await tf.setBackend("cpu");
  await ensureGradients();
});

async function load(file: string, name: string): Promise<ModelModule> {
  const result = checkFiles([file], { cwd: ROOT });
  return (await compileModel(result, result.checked.models.get(name)!, COMPILER_VERSION)).module;
}

describe("tfjs model modules", () => {
  it("are generated for every model of tiny.mhc, deterministically, with vetted ops only, and listed in the manifest", async () => {
    const result = checkFiles(["examples/tiny.mhc"], { cwd: ROOT });
    const a = await generateTfjs(result, { compilerVersion: COMPILER_VERSION, models: "all" });
    const b = await generateTfjs(result, { compilerVersion: COMPILER_VERSION, models: "all" });
    expect(a.files.map((f) => f.text)).toEqual(b.files.map((f) => f.text));
    const paths = a.files.map((f) => f.path);
    for (const p of ["tiny.model.ts", "tiny_residual.model.ts", "tiny_hc.model.ts", "tiny_mhc.model.ts", "manifest.json"]) expect(paths).toContain(p);
    expect(a.manifest.models?.map((m) => m.name)).toEqual(["tiny", "tiny_mhc", "tiny_residual", "tiny_hc"]);
    const tiny = a.manifest.models!.find((m) => m.name === "tiny")!;
    expect(tiny.parameterCount).toBeGreaterThan(800_000);
    expect(tiny.parameters[0]).toMatchObject({ name: "embed.weight", shape: [256, 128] });
    for (const f of a.files.filter((f) => f.path.endsWith(".model.ts"))) {
      for (const fn of tfReferences(f.text)) expect(VETTED_FUNCTIONS.has(fn) || TF_UTILITIES.includes(fn), `${f.path}: tf.${fn}`).toBe(true);
    }
  });

  it("forward gives [B, T, vocab] for odd T on every model, and the loss starts near ln(vocab)", async () => {
    for (const name of ["tiny_residual", "tiny_hc", "tiny_mhc"]) {
      const m = await load("examples/tiny.mhc", name);
      const params = m.initParameters(0);
      for (const T of [1, 7]) {
        const tokens = tf.tensor2d(Array.from({ length: 2 * T }, (_, i) => (i * 37) % 256), [2, T], "int32");
        const logits = m.forward(params, tokens);
        expect(logits.shape).toEqual([2, T, 256]);
        expect(logits.dataSync().every(Number.isFinite)).toBe(true);
        tf.dispose([tokens, logits]);
      }
      const tokens = tf.tensor2d(Array.from({ length: 18 }, (_, i) => (i * 11) % 256), [2, 9], "int32");
      const loss = m.loss(params, tokens);
      expect(Math.abs(loss.dataSync()[0]! - Math.log(256))).toBeLessThan(0.3);
      tf.dispose([tokens, loss, ...Object.values(params)]);
    }
  }, 30_000);

  it("dispatch only vetted kernels forward and backward", async () => {
    const m = await load(FIXTURES, "micro_mhc");
    const params = m.initParameters(0);
    const names = Object.keys(params);
    const tokens = tf.tensor2d(Array.from({ length: 16 }, (_, i) => i * 3), [2, 8], "int32");
    const info = await tf.profile(() => {
      const g = tf.grads((...xs: tf.Tensor[]) => m.loss(Object.fromEntries(names.map((n, i) => [n, xs[i]!])), tokens));
      return g(names.map((n) => params[n]!));
    });
    const vetted = new Set([...vettedKernels(), ...PSEUDO_KERNELS]);
    const unvetted = [...new Set(info.kernelNames)].filter((k) => !vetted.has(k));
    expect(unvetted).toEqual([]);
    tf.dispose([tokens, ...Object.values(params)]);
  }, 30_000);

  it("apply dropout in training mode only: deterministic per seed, absent in eval mode and at rate 0", async () => {
    const tokens = tf.tensor2d(Array.from({ length: 2 * 9 }, (_, i) => (i * 29 + 3) % 256), [2, 9], "int32");
    const values = (m: ModelModule, params: Record<string, tf.Tensor>, options?: { training?: boolean; seed?: number | string }) => {
      const logits = m.forward(params, tokens, options);
      const data = Array.from(logits.dataSync());
      logits.dispose();
      return data;
    };
    const dropped = await load(FIXTURES, "micro_dropout");
    expect(dropped.config.dropout).toBe(0.25);
    const params = dropped.initParameters(2);
    const evalMode = values(dropped, params);
    expect(values(dropped, params, { training: false, seed: 1 })).toEqual(evalMode);
    const a = values(dropped, params, { training: true, seed: "1:1" });
    expect(values(dropped, params, { training: true, seed: "1:1" })).toEqual(a);
    expect(a).not.toEqual(evalMode);
    expect(values(dropped, params, { training: true, seed: "1:2" })).not.toEqual(a);
    // the training-mode backward dispatches only vetted kernels
    const names = Object.keys(params);
    const info = await tf.profile(() => tf.grads((...xs: tf.Tensor[]) => dropped.loss(Object.fromEntries(names.map((n, i) => [n, xs[i]!])), tokens, { training: true, seed: 3 }))(names.map((n) => params[n]!)));
    const vetted = new Set([...vettedKernels(), ...PSEUDO_KERNELS]);
    expect([...new Set(info.kernelNames)].filter((k) => !vetted.has(k))).toEqual([]);
    tf.dispose(Object.values(params));
    // rate 0: training mode computes exactly the eval forward
    const plain = await load(FIXTURES, "micro_residual");
    const p0 = plain.initParameters(2);
    expect(values(plain, p0, { training: true, seed: 5 })).toEqual(values(plain, p0));
    tf.dispose([tokens, ...Object.values(p0)]);
  });

  /** The residual micro model written independently (gather, per-head loops, bandPart): logits [B, T, 256]. */
  const independentLogits = (p: (n: string) => tf.Tensor, ids: readonly number[], B: number, T: number): tf.Tensor => {
    const C = 16, H = 2, D = 8;
    const rms = (x: tf.Tensor, w: tf.Tensor) => tf.mul(tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))), w);
    const mm = (a: tf.Tensor, b: tf.Tensor, tb = false) => tf.matMul(a, b, false, tb);
    let x = tf.reshape(tf.gather(p("embed.weight"), tf.tensor1d([...ids], "int32")), [B * T, C]);
    // attention, one head at a time on [T, D] slices of one sequence at a time
    const h = rms(x, p("layers.0.0.norm.weight"));
    const [q, k, v] = ["wq", "wk", "wv"].map((w) => mm(h, p(`layers.0.0.attn.${w}`)));
    const pos = tf.reshape(tf.range(0, T), [T, 1]);
    const freq = tf.reshape(tf.pow(tf.scalar(10000), tf.mul(tf.range(0, D / 2), -2 / D)), [1, D / 2]);
    const ang = tf.concat([tf.mul(pos, freq), tf.mul(pos, freq)], 1); // [T, D]
    const rot = (t: tf.Tensor) => {
      const [a, b] = tf.split(t, 2, -1);
      return tf.add(tf.mul(t, tf.cos(ang)), tf.mul(tf.concat([tf.neg(b!), a!], -1), tf.sin(ang)));
    };
    const allowed = tf.cast(tf.linalg.bandPart(tf.ones([T, T]), -1, 0), "bool");
    const rows: tf.Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const heads: tf.Tensor[] = [];
      for (let i = 0; i < H; i++) {
        const sl = (t: tf.Tensor) => tf.slice(t, [b * T, i * D], [T, D]);
        const s = tf.div(mm(rot(sl(q!)), rot(sl(k!)), true), Math.sqrt(D));
        heads.push(mm(tf.softmax(tf.where(allowed, s, tf.fill([T, T], -Infinity))), sl(v!)));
      }
      rows.push(tf.concat(heads, -1));
    }
    x = tf.add(x, mm(tf.concat(rows, 0), p("layers.0.0.attn.wo")));
    // swiglu MLP
    const h2 = rms(x, p("layers.0.1.norm.weight"));
    const gate = mm(h2, p("layers.0.1.mlp.w_gate"));
    x = tf.add(x, mm(tf.mul(tf.mul(gate, tf.sigmoid(gate)), mm(h2, p("layers.0.1.mlp.w_in"))), p("layers.0.1.mlp.w_out")));
    return tf.reshape(mm(rms(x, p("final_norm.weight")), p("lm_head.weight"), true), [B, T, 256]);
  };

  it("matches an independent implementation of the residual model (gather, per-head loops, bandPart)", async () => {
    const m = await load(FIXTURES, "micro_residual");
    const params = m.initParameters(5);
    const B = 2, T = 7;
    const ids = Array.from({ length: B * T }, (_, i) => (i * 53 + 7) % 256);
    const tokens = tf.tensor2d(ids, [B, T], "int32");
    const expected = tf.tidy(() => independentLogits((n) => params[n]!, ids, B, T));
    const actual = m.forward(params, tokens);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]!);
    const scale = tf.tidy(() => tf.max(tf.abs(expected)).dataSync()[0]!);
    expect(diff / scale).toBeLessThan(1e-4);
    tf.dispose([tokens, actual, expected, ...Object.values(params)]);
  });

  it("has the independent implementation's gradients on cpu and on wasm (whose products with weights transpose explicitly)", async () => {
    const m = await load(FIXTURES, "micro_residual");
    const params = m.initParameters(6);
    const B = 2, T = 7;
    const ids = Array.from({ length: B * T }, (_, i) => (i * 31 + 5) % 256);
    // every parameter the residual model uses (its connections' biases and alpha are unused)
    const names = Object.keys(params).filter((n) => !n.includes(".conn."));
    const weights = tf.randomNormal([B, T, 256], 0, 1, "float32", 3);
    const gradients = (logits: (p: (n: string) => tf.Tensor) => tf.Tensor) =>
      tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(logits((n) => xs[names.indexOf(n)] ?? params[n]!), weights)))(names.map((n) => params[n]!));
    // the reference on cpu (tfjs's own gradients; gather's needs a kernel wasm lacks)
    const expected = gradients((p) => independentLogits(p, ids, B, T));
    for (const backend of ["cpu", "wasm"]) {
      await tf.setBackend(backend);
      const tokens = tf.tensor2d(ids, [B, T], "int32");
      const actual = gradients((p) => m.forward(Object.fromEntries(Object.keys(params).map((n) => [n, p(n)])), tokens));
      names.forEach((n, i) => {
        const e = expected[i]!.dataSync();
        const a = actual[i]!.dataSync();
        let diff = 0, scale = 0;
        e.forEach((v, j) => ((diff = Math.max(diff, Math.abs(a[j]! - v))), (scale = Math.max(scale, Math.abs(v)))));
        expect(diff / scale, `${backend}: gradient of ${n}`).toBeLessThan(1e-4);
      });
      tf.dispose([tokens, ...actual]);
    }
    await tf.setBackend("cpu");
    tf.dispose([weights, ...expected, ...Object.values(params)]);
  });
});

describe("initialisation", () => {
  it("is the same for the same seed, seed 0 included (tfjs takes a seed of 0 as no seed)", async () => {
    const m = await load("examples/tiny.mhc", "tiny_mhc");
    const a = m.initParameters(0);
    const b = m.initParameters(0);
    for (const name of Object.keys(a)) expect(Array.from(a[name]!.dataSync()), name).toEqual(Array.from(b[name]!.dataSync()));
    tf.dispose([...Object.values(a), ...Object.values(b)]);
  });
});
