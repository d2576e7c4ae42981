import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planTfjsModel } from "../../compiler/codegen/tfjs/index.js";
import { checkFiles, type CheckResult } from "../../compiler/driver.js";
import { interpret } from "../../compiler/ir/interpret.js";
import { makeTensor } from "../../compiler/ir/tensor.js";
import { assertValidGraph } from "../../compiler/ir/verify.js";
import { Builder } from "../../compiler/ir/builder.js";
import { Graph } from "../../compiler/ir/graph.js";
import { buildModelGraph, oneHot } from "../../compiler/lower/model-graph.js";
import { attentionSoftmax, geluTanh, rotaryEmbedding } from "../../compiler/lower/model-ops.js";
import { modelParameterSpecs } from "../../compiler/lower/model-parameters.js";
import type { CheckedModel } from "../../compiler/sema/checked.js";
import { ensureGradients } from "../../runtime/tfjs/backend.js";
import { compareModel, ModelLoader, randomParameters, randomTokens, relativeError, scaledDown, type Comparison } from "./model-harness.js";

/*
 * The generated TensorFlow.js model (float32) against the float64 IR of the whole model
 * (compiler/lower/model-graph.ts), on the same parameters (seeded, rounded to float32,
 * given to both sides) and the same tokens:
 *
 *   forward:   max |tfjs - reference| / max |reference| over the logits [B, T, vocab]
 *              (and the loss), below 1e-4;
 *   gradients: of the mean cross-entropy w.r.t. every parameter, per parameter tensor
 *              max |tfjs - reference| / max(max |reference|, 1e-3 G), G the largest
 *              gradient entry of the model, below 1e-3 (why the floor: see
 *              GRADIENT_SCALE_FLOOR in model-harness.ts; the tensors it applies to are
 *              counted in the printed table).
 *
 * Models: the fixtures (test/numerics/fixtures/models.mhc: n = 1, 3, 4, 8, C = 96 and an
 * odd head size, every connection kind, MLP activation, collapse and expand, kv_heads <
 * heads, tied head, T = 1 and 7, batch 2), the models of examples/tiny.mhc at their real
 * size, and every other example model with its structure at a small size (`scaledDown`:
 * their real sizes, dim 768 to 4096 with 32k-129k vocabularies, are far beyond what a
 * float64 interpreter runs in a unit test). Forward and loss are called in evaluation mode
 * (their default), where dropout is off as in the reference; fx_lite has dropout 0.1 to
 * keep it so. cpu backend throughout, wasm for two cases.
 */

const FORWARD_TOLERANCE = 1e-4;
const GRADIENT_TOLERANCE = 1e-3;
const ROOT = resolve(import.meta.dirname, "../..");
const FIXTURES = "test/numerics/fixtures/models.mhc";

const checkedFiles = new Map<string, CheckResult>();
function checked(file: string): CheckResult {
  let result = checkedFiles.get(file);
  if (!result) {
    result = checkFiles([file], { cwd: ROOT });
    if (result.errorCount > 0) throw new Error(`${file} does not check`);
    checkedFiles.set(file, result);
  }
  return result;
}

const loader = new ModelLoader();
const measured: { label: string; c: Comparison }[] = [];

beforeAll(async () => {
  const gradients = await ensureGradients();
  expect(gradients.ok, gradients.how).toBe(true);
  await tf.setBackend("cpu");
});

afterAll(() => {
  if (measured.length === 0) return;
  const rows = measured.map(
    ({ label, c }) =>
      `  ${label.padEnd(52)} forward ${c.forward.toExponential(2)}  gradient ${c.gradient.toExponential(2)} (${c.worstParameter || "-"}; ${c.floored.length} at the floor, ${c.unused.length} unused)`,
  );
  console.info(`max relative errors, generated tfjs model (float32) vs the model IR (float64):\n${rows.join("\n")}`);
});

async function check(label: string, result: CheckResult, model: CheckedModel, batch: number, tokens: number, seed: number): Promise<void> {
  const m = await loader.load(result, model);
  const c = compareModel(result, model, m, randomTokens(batch, tokens, model.vocab, seed), seed + 1);
  measured.push({ label: `${tf.getBackend()} ${label}`, c });
  expect(c.forward, "logits").toBeLessThan(FORWARD_TOLERANCE);
  for (const [name, error] of c.perParameter) expect(error, `gradient of ${name}`).toBeLessThan(GRADIENT_TOLERANCE);
}

const fixtureCases: readonly { model: string; shapes: readonly [number, number][] }[] = [
  { model: "fx_mhc_n4", shapes: [[1, 7], [2, 1]] },
  { model: "fx_mhc_n3", shapes: [[1, 7], [2, 1]] },
  { model: "fx_mhc_n8", shapes: [[1, 7]] },
  { model: "fx_mhc_n1", shapes: [[1, 7], [2, 1]] },
  { model: "fx_residual", shapes: [[1, 7], [2, 1]] },
  { model: "fx_hc", shapes: [[1, 7]] },
  { model: "fx_lite", shapes: [[1, 7], [2, 1]] },
  { model: "fx_user", shapes: [[2, 7], [1, 1]] },
];

describe("the generated tfjs model matches the model IR (cpu backend)", () => {
  fixtureCases.forEach(({ model, shapes }, i) => {
    it(`${model}: ${shapes.map(([b, t]) => `B = ${b}, T = ${t}`).join("; ")}`, async () => {
      const result = checked(FIXTURES);
      for (const [b, t] of shapes) await check(`${model} B = ${b} T = ${t}`, result, result.checked.models.get(model)!, b, t, 100 + 10 * i + t);
    });
  });

  for (const name of ["tiny", "tiny_mhc", "tiny_hc", "tiny_residual"]) {
    it(`examples/tiny.mhc ${name} at its real size, T = 7`, async () => {
      const result = checked("examples/tiny.mhc");
      await check(`tiny.mhc ${name} T = 7`, result, result.checked.models.get(name)!, 1, 7, 300);
    });
  }

  it("every other example model, scaled down, T = 5", async () => {
    const files = readdirSync(join(ROOT, "examples")).filter((f) => f.endsWith(".mhc") && f !== "tiny.mhc").sort();
    const seen = new Map<string, string>();
    let compared = 0;
    for (const file of files) {
      const result = checked(`examples/${file}`);
      for (const model of result.checked.models.values()) {
        if (model.decl.span.file !== `examples/${file}`) continue;
        const small = scaledDown(model);
        // Models that are identical once scaled (same connections, block and head) are compared once.
        const plan = planTfjsModel(result, small);
        const signature = JSON.stringify([plan.parameters.map((p) => [p.name, p.shape]), plan.connections.map((c) => c.file), plan.block.map((b) => ({ ...b, connection: undefined })), small.collapse, small.expand, small.normEps]);
        if (seen.has(signature)) continue;
        seen.set(signature, model.name);
        await check(`${file} ${model.name} (scaled) T = 5`, result, small, 1, 5, 400 + compared);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(10);
  }, 60_000);

  it("with the generated model's own initialisation (initParameters)", async () => {
    const result = checked("examples/tiny.mhc");
    const model = result.checked.models.get("tiny_mhc")!;
    const m = await loader.load(result, model);
    const init = m.initParameters(7);
    const { graph, parameters } = buildModelGraph(result.checked, model, { tokens: 7 });
    const inputs = Object.fromEntries(parameters.map((p) => [p.name, makeTensor(p.shape, init[p.name]!.dataSync())]));
    const ids = randomTokens(1, 6, model.vocab, 9)[0]!;
    const expected = interpret(graph, { ...inputs, tokens: oneHot(ids, model.vocab) })["logits"]!;
    const tokens = tf.tensor2d([ids], [1, 7], "int32");
    const logits = m.forward(init, tokens);
    expect(relativeError(logits.dataSync(), expected.data)).toBeLessThan(FORWARD_TOLERANCE);
    tf.dispose([tokens, logits, ...Object.values(init)]);
  });
});

describe("on the wasm backend", () => {
  it("fx_mhc_n4 (B = 1, T = 7) and fx_hc (B = 2, T = 1)", async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    try {
      const result = checked(FIXTURES);
      await check("fx_mhc_n4 B = 1 T = 7", result, result.checked.models.get("fx_mhc_n4")!, 1, 7, 500);
      await check("fx_hc B = 2 T = 1", result, result.checked.models.get("fx_hc")!, 2, 1, 501);
    } finally {
      await tf.setBackend("cpu");
    }
  });
});

describe("the model IR itself", () => {
  it("lists the generated model's parameters (names, order, shapes) for every model of every example and fixture", () => {
    const files = [...readdirSync(join(ROOT, "examples")).filter((f) => f.endsWith(".mhc")).map((f) => `examples/${f}`), FIXTURES];
    let models = 0;
    for (const file of files) {
      const result = checked(file);
      for (const model of result.checked.models.values()) {
        const expected = planTfjsModel(result, model).parameters.map((p) => ({ name: p.name, shape: p.shape }));
        expect(modelParameterSpecs(model), `${file} ${model.name}`).toEqual(expected);
        models++;
      }
    }
    expect(models).toBeGreaterThanOrEqual(20);
  });

  it("verifies, and is causal: the logits at position t do not depend on later tokens (unless causal = false)", () => {
    const result = checked(FIXTURES);
    for (const [name, causal] of [["fx_mhc_n3", true], ["fx_residual", false]] as const) {
      const model = result.checked.models.get(name)!;
      const { graph, parameters } = buildModelGraph(result.checked, model, { tokens: 6 });
      assertValidGraph(graph, name);
      const params = randomParameters(parameters, 3);
      const logits = (ids: number[]) => interpret(graph, { ...params, tokens: oneHot(ids, model.vocab) })["logits"]!.data;
      const a = logits([1, 2, 3, 4, 5, 6]);
      const b = logits([1, 2, 3, 4, 9, 6]); // token 4 changed
      const V = model.vocab;
      const before = relativeError(b.subarray(0, 4 * V), a.subarray(0, 4 * V));
      if (causal) expect(before).toBe(0);
      else expect(before).toBeGreaterThan(1e-6);
      expect(relativeError(b.subarray(4 * V), a.subarray(4 * V))).toBeGreaterThan(1e-6);
    }
  });

  it("keeps the sequences of a batch apart", () => {
    const result = checked(FIXTURES);
    const model = result.checked.models.get("fx_hc")!;
    const params = randomParameters(modelParameterSpecs(model), 4);
    const run = (rows: number[][]) => {
      const { graph } = buildModelGraph(result.checked, model, { tokens: rows[0]!.length, batch: rows.length });
      return interpret(graph, { ...params, tokens: oneHot(rows.flat(), model.vocab) })["logits"]!.data;
    };
    const both = run([[3, 1, 4], [1, 5, 9]]);
    expect(relativeError(both.subarray(0, 3 * model.vocab), run([[3, 1, 4]]))).toBeLessThan(1e-15);
    expect(relativeError(both.subarray(3 * model.vocab), run([[1, 5, 9]]))).toBeLessThan(1e-15);
  });

  it("has the pieces' textbook values: RoPE rotates pairs by p * base^(-2j/D) (relative positions only), GELU-tanh, causal softmax", () => {
    const b = new Builder(new Graph(), { dtype: "f64" });
    const [T, D] = [5, 6];
    const x = b.input("x", [T, D]);
    b.graph.output("rope", rotaryEmbedding(b, x, 10000));
    b.graph.output("gelu", geluTanh(b, x));
    b.graph.output("softmax", attentionSoftmax(b, b.input("s", [T, T]), true));
    const odd = b.input("odd", [T, 3]);
    b.graph.output("odd", rotaryEmbedding(b, odd, 10000));
    // The same vector at every position: rotated dot products depend on p - p' only, norms are kept.
    const v = [0.3, -1.2, 0.7, 2.0, -0.4, 1.1];
    const out = interpret(b.graph, { x: makeTensor([T, D], Array.from({ length: T }, () => v).flat()), s: makeTensor([T, T], Array.from({ length: T * T }, (_, i) => i % 7)), odd: makeTensor([T, 3], Array.from({ length: 3 * T }, (_, i) => i)) });
    const row = (p: number) => Array.from(out["rope"]!.data.subarray(p * D, (p + 1) * D));
    const dot = (a: number[], c: number[]) => a.reduce((acc, ai, i) => acc + ai * c[i]!, 0);
    expect(dot(row(1), row(0))).toBeCloseTo(dot(row(4), row(3)), 12);
    expect(dot(row(3), row(3))).toBeCloseTo(dot(v, v), 12);
    expect(row(0)).toEqual(v); // position 0: no rotation
    // Pair (0, 3) at position 1 turns by angle 1 (j = 0).
    expect(row(1)[0]).toBeCloseTo(v[0]! * Math.cos(1) - v[3]! * Math.sin(1), 14);
    expect(row(1)[3]).toBeCloseTo(v[3]! * Math.cos(1) + v[0]! * Math.sin(1), 14);
    expect(Array.from(out["odd"]!.data)).toEqual(Array.from({ length: 3 * T }, (_, i) => i));
    expect(out["gelu"]!.data[3]).toBeCloseTo(0.5 * 2 * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (2 + 0.044715 * 8))), 14);
    const probs = out["softmax"]!.data;
    for (let i = 0; i < T; i++) {
      expect(probs.subarray(i * T, (i + 1) * T).reduce((a, p) => a + p, 0)).toBeCloseTo(1, 14);
      for (let j = i + 1; j < T; j++) expect(probs[i * T + j]).toBe(0);
    }
  });

  it("rejects token counts beyond the context", () => {
    const result = checked(FIXTURES);
    expect(() => buildModelGraph(result.checked, result.checked.models.get("fx_hc")!, { tokens: 9 })).toThrow(/9 tokens, expected 1 to the context 8/);
  });
});
