import * as tf from "@tensorflow/tfjs-core";
import { generateConnectionModule, planTfjsModel } from "../../compiler/codegen/tfjs/index.js";
import { modelModuleSource } from "../../compiler/codegen/tfjs/model-module.js";
import type { CheckResult } from "../../compiler/driver.js";
import { interpret, reachableNodes } from "../../compiler/ir/interpret.js";
import { makeTensor, type Tensor } from "../../compiler/ir/tensor.js";
import { buildModelGraph, oneHot, type ModelGraph } from "../../compiler/lower/model-graph.js";
import type { ModelParameterSpec } from "../../compiler/lower/model-parameters.js";
import { differentiate, gradientOutputName } from "../../compiler/passes/autodiff.js";
import type { CheckedModel } from "../../compiler/sema/checked.js";
import type { ModelModule } from "../../compiler/train/model.js";
import { mulberry32 } from "../../compiler/random.js";
import { loadGeneratedModules, type SourceModule } from "../../runtime/tfjs/load-generated.js";

/*
 * What the model-level numerics tests share: the generated TensorFlow.js model of a
 * checked model (exactly what `mhc compile --models` / `mhc train` produce and load),
 * seeded parameters fed identically to both sides, and the float64 IR of the whole
 * model (`buildModelGraph`) interpreted and differentiated.
 */

/**
 * max |actual - expected| / max(max |expected|, floor) over one tensor: the error
 * relative to the tensor's own scale (never below `floor`; an exactly zero reference
 * with no floor gives the plain max |actual|).
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 0): number {
  if (actual.length !== expected.length) throw new Error(`sizes differ: ${actual.length} and ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  scale = Math.max(scale, floor);
  return scale === 0 ? diff : diff / scale;
}

export function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i] as number));
  return m;
}

/**
 * Gradients are compared relative to max(max |reference|, GRADIENT_SCALE_FLOOR * G), with
 * G the largest gradient entry of the whole model. Some gradients are (nearly) zero by
 * symmetry, and float32 cannot resolve them relative to themselves: at the first sublayer
 * of an `expand repeat` model every stream is the same embedding, RMSNorm ignores the
 * scale that H_pre gives u, and a doubly stochastic H_res maps identical streams to
 * themselves, so that sublayer's pre and res parameters get gradients ~1e-7 G (finite
 * differences of the float64 IR agree with its autodiff there); with n = 1 the same
 * holds for the gated collapse's parameters (the final RMSNorm ignores the gate).
 */
export const GRADIENT_SCALE_FLOOR = 1e-3;

/**
 * Generates and loads a model's modules like `compileModel`, with two shortcuts so that
 * dozens of models load in a few seconds: each connection module is generated once per
 * file name (the name spells out the connection instance, which is all the module
 * depends on), and the model module is loaded as generated, before prettier reprints
 * it (prettier keeps the syntax tree; the golden tests check the formatted text).
 */
export class ModelLoader {
  private readonly connections = new Map<string, SourceModule>();

  constructor(private readonly compilerVersion = "0.0.0-test") {}

  async load(result: CheckResult, model: CheckedModel): Promise<ModelModule> {
    const plan = planTfjsModel(result, model);
    const files: SourceModule[] = [];
    for (const c of plan.connections) {
      let file = this.connections.get(c.file);
      if (!file) {
        const generated = await generateConnectionModule(result, c.conn, { compilerVersion: this.compilerVersion });
        file = { path: c.file, text: generated.file.text };
        this.connections.set(c.file, file);
      }
      files.push(file);
    }
    const entry = result.checked.program.files.get(result.checked.program.entries[0]!)!.displayPath;
    files.push({ path: plan.file, text: modelModuleSource(plan, { entry, compilerVersion: this.compilerVersion }) });
    const modules = await loadGeneratedModules(files);
    return modules.get(plan.file) as unknown as ModelModule;
  }
}

/**
 * Seeded parameters, rounded to float32 so that tfjs and the float64 reference start
 * from the very same numbers. Scales keep every part of the model active: weight
 * matrices ~U(+-sqrt(3 / fan_in)) (unit-variance outputs, so attention is neither
 * uniform nor one-hot), norm weights and expand scales in [0.5, 1.5], projections
 * U(+-0.1), alpha (0.7, -0.9, 1.3), biases U(+-1). Generic (init-time) values would
 * leave the connections almost static (alpha = 0.01) and Sinkhorn saturated.
 */
export function randomParameters(specs: readonly ModelParameterSpec[], seed: number): Record<string, Tensor> {
  const random = mulberry32(seed);
  const uniform = (count: number, lo: number, hi: number): number[] => Array.from({ length: count }, () => Math.fround(lo + (hi - lo) * random()));
  const out: Record<string, Tensor> = {};
  for (const { name, shape } of specs) {
    const count = shape.reduce((a, b) => a * b, 1);
    const last = name.slice(name.lastIndexOf(".") + 1);
    let values: number[];
    if (name === "embed.weight" || name === "lm_head.weight") values = uniform(count, -1, 1);
    else if (last === "alpha") values = name === "head.alpha" ? [Math.fround(0.8)] : [0.7, -0.9, 1.3].map(Math.fround);
    else if (last.startsWith("bias")) values = uniform(count, -1, 1);
    else if (last.startsWith("phi")) values = uniform(count, -0.1, 0.1);
    else if (name.endsWith("norm.weight") || name === "expand.scale") values = uniform(count, 0.5, 1.5);
    else {
      const bound = Math.sqrt(3 / (shape[0] as number));
      values = uniform(count, -bound, bound);
    }
    out[name] = makeTensor(shape, values);
  }
  return out;
}

/** Token ids `[B, T + 1]` (inputs are the first T of each row, targets the last T). */
export function randomTokens(batch: number, tokens: number, vocab: number, seed: number): number[][] {
  const random = mulberry32(seed);
  return Array.from({ length: batch }, () => Array.from({ length: tokens + 1 }, () => Math.floor(random() * vocab)));
}

export function toTf(t: Tensor): tf.Tensor {
  return tf.tensor(Float32Array.from(t.data), [...t.shape], "float32");
}

/** The reference: logits and loss of the whole-model IR, in float64. */
export function referenceInputs(graph: ModelGraph, params: Record<string, Tensor>, rows: number[][], vocab: number): Record<string, Tensor> {
  const T = graph.tokens;
  return {
    ...params,
    tokens: oneHot(rows.flatMap((r) => r.slice(0, T)), vocab),
    targets: oneHot(rows.flatMap((r) => r.slice(1, T + 1)), vocab),
  };
}

export interface Comparison {
  /** Worst relative error of the logits (and of the loss). */
  readonly forward: number;
  /** Worst relative error over every parameter's gradient, and which parameter it was. */
  readonly gradient: number;
  readonly worstParameter: string;
  /** Parameters the loss does not depend on (tfjs cannot differentiate w.r.t. them; the reference gives zeros). */
  readonly unused: readonly string[];
  readonly perParameter: ReadonlyMap<string, number>;
  /** Parameters whose reference gradient is below the floor (compared against the floor). */
  readonly floored: readonly string[];
}

/**
 * Forward logits, the loss, and the gradients of the loss w.r.t. every parameter: the
 * generated model on the active tfjs backend against the whole-model IR in float64.
 */
export function compareModel(result: CheckResult, model: CheckedModel, m: ModelModule, rows: number[][], seed: number, withGradients = true): Comparison {
  const B = rows.length;
  const T = (rows[0] as number[]).length - 1;
  const graph = buildModelGraph(result.checked, model, { tokens: T, batch: B, loss: true });
  const params = randomParameters(graph.parameters, seed);
  const inputs = referenceInputs(graph, params, rows, model.vocab);
  const names = graph.parameters.map((p) => p.name);

  const tfParams = Object.fromEntries(names.map((name) => [name, toTf(params[name]!)]));
  const inputTokens = tf.tensor2d(rows.map((r) => r.slice(0, T)), [B, T], "int32");
  const allTokens = tf.tensor2d(rows, [B, T + 1], "int32");
  try {
    const expected = interpret(graph.graph, inputs);
    const logits = m.forward(tfParams, inputTokens);
    const loss = m.loss(tfParams, allTokens);
    if (JSON.stringify(logits.shape) !== JSON.stringify(expected["logits"]!.shape)) throw new Error(`logits ${JSON.stringify(logits.shape)} vs ${JSON.stringify(expected["logits"]!.shape)}`);
    const forward = Math.max(relativeError(logits.dataSync(), expected["logits"]!.data), relativeError(loss.dataSync(), expected["loss"]!.data));
    tf.dispose([logits, loss]);
    if (!withGradients) return { forward, gradient: 0, worstParameter: "", unused: [], perParameter: new Map(), floored: [] };

    const differentiated = differentiate(graph.graph, { of: "loss", wrt: names });
    const grads = interpret(differentiated, inputs);
    const live = new Set(reachableNodes([graph.graph.findOutput("loss")!]).filter((n) => n.op === "input").map((n) => n.attrs["name"] as string));
    const used = names.filter((n) => live.has(n));
    const unused = names.filter((n) => !live.has(n));
    for (const name of unused) {
      if (!grads[gradientOutputName(name)]!.data.every((v) => v === 0)) throw new Error(`the reference gradient of unused ${name} is not zero`);
    }
    const tfGrads = tf.tidy(() => tf.grads((...xs: tf.Tensor[]) => m.loss({ ...tfParams, ...Object.fromEntries(used.map((n, i) => [n, xs[i]!])) }, allTokens))(used.map((n) => tfParams[n]!)));
    const perParameter = new Map<string, number>();
    let gradient = 0;
    let worstParameter = "";
    const largest = Math.max(...names.map((n) => maxAbs(grads[gradientOutputName(n)]!.data)));
    const floored: string[] = [];
    used.forEach((name, i) => {
      const reference = grads[gradientOutputName(name)]!.data;
      if (maxAbs(reference) < GRADIENT_SCALE_FLOOR * largest) floored.push(name);
      const error = relativeError(tfGrads[i]!.dataSync(), reference, GRADIENT_SCALE_FLOOR * largest);
      perParameter.set(name, error);
      if (error >= gradient) {
        gradient = error;
        worstParameter = name;
      }
    });
    tf.dispose(tfGrads);
    return { forward, gradient, worstParameter, unused, perParameter, floored };
  } finally {
    tf.dispose([inputTokens, allTokens, ...Object.values(tfParams)]);
  }
}

/**
 * The same model at a size the float64 interpreter runs in milliseconds: vocabulary
 * 48, context 8, one layer, at most 2 kv heads and 2 query heads per kv head
 * (the grouping kept), head size 8 (even: RoPE stays on), MLP hidden 2 * dim. The
 * connections, block, activations, expand, collapse, tying and norm_eps are untouched:
 * the structure is what the comparison tests.
 */
export function scaledDown(model: CheckedModel): CheckedModel {
  const attention = model.block.filter((s) => s.kind === "attention");
  const heads = (s: (typeof model.block)[number]) => {
    const h = s.args["heads"] as number;
    const kv = (s.args["kv_heads"] as number | undefined) ?? h;
    const kvSmall = Math.min(kv, 2);
    return { heads: kvSmall * Math.min(h / kv, 2), kvHeads: kvSmall };
  };
  const maxHeads = Math.max(1, ...attention.map((s) => heads(s).heads));
  const dim = 8 * maxHeads;
  const block = model.block.map((s) => {
    if (s.kind === "attention") {
      const { heads: h, kvHeads } = heads(s);
      // One head size for every attention sublayer: dim / h must be a whole number.
      return { ...s, args: { ...s.args, heads: h * (maxHeads / h), kv_heads: kvHeads * (maxHeads / h) } };
    }
    if (s.kind === "mlp") return { ...s, args: { ...s.args, hidden: 2 * dim } };
    return s;
  });
  return { ...model, vocab: 48, dim, context: 8, layers: 1, block };
}
