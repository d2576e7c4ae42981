/**
 * The generated model's training step against a hand-written tfjs implementation of the
 * same model (run: `npm run bench:tfjs`, or `npx tsx bench/tfjs-train-step.ts [wasm|cpu]
 * [steps per round] [rounds]`).
 *
 * For the residual, HC and mHC models of examples/tiny.mhc's comparison: the generated
 * modules (`mhc compile --target tfjs`, as `mhc train` runs them: `tf.variableGrads` of
 * the loss, then the Adam of compiler/train/adam.ts) and bench/tfjs-handwritten.ts (the
 * same maths written with tf ops, `tf.train.adam().minimize`), once as most tfjs code is
 * written (tf.matMul with tfjs's own gradient) and once with the products with weights
 * through a custom gradient with explicit transposes, the one trick of the generated
 * model that a hand-written one can use as well. Before timing, both
 * compute the loss of the same parameters on the same tokens, which must agree (so the
 * benchmark compares the same work). Then rounds alternate the two, each round a fresh
 * start from the same parameters on the same batches; the first step of a round (warm-up)
 * is left out. Reports median step times (wall-clock, and CPU time of the process, which
 * other work on a shared machine barely moves), their ratios (goal: generated within 1.25x
 * of hand-written) and the kernels one step dispatches (independent of machine load).
 * Writes bench/results/tfjs-train-step-<backend>-<date>.json.
 */
import * as tf from "@tensorflow/tfjs-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkFiles } from "../compiler/driver.js";
import { concreteInt } from "../compiler/lower/parameters.js";
import type { CheckedModel } from "../compiler/sema/checked.js";
import { loadCorpus } from "../compiler/train/corpus.js";
import { compileModel, type ModelModule } from "../compiler/train/model.js";
import { selectBackend, type BackendName } from "../runtime/tfjs/backend.js";
import { batches, generatedStepRunner, kernelsPerStep, machine, median, timed, type StepRunner } from "./tfjs-common.js";
import { handwrittenModel, type Connection, type HandwrittenConfig, type HandwrittenModel } from "./tfjs-handwritten.js";

const backendName = (process.argv[2] ?? "wasm") as BackendName;
const STEPS = Number(process.argv[3] ?? 6);
const ROUNDS = Number(process.argv[4] ?? 5);
const BATCH = 8;
const LR = 3e-3;
const GOAL = 1.25;
const VARIANTS = ["generated", "handwritten", "handwrittenExplicitTransposes"] as const;
type Variant = (typeof VARIANTS)[number];
const MODELS: readonly [string, Connection][] = [
  ["tiny_residual", "residual"],
  ["tiny_hc", "hc"],
  ["tiny_mhc", "mhc"],
];

/** The hand-written model's configuration, read from the checked model (attention + GELU MLP blocks only). */
function configOf(model: CheckedModel, connection: Connection, m: ModelModule): HandwrittenConfig {
  const [attn, mlp] = model.block;
  if (model.block.length !== 2 || attn?.kind !== "attention" || mlp?.kind !== "mlp" || (mlp.args["act"] ?? "gelu") !== "gelu") {
    throw new Error(`${model.name}: the hand-written model is a block of attention and a GELU MLP`);
  }
  const itersArg = model.connection.maps.res.args.get("iters");
  const iters = connection === "mhc" ? (itersArg?.kind === "int" ? concreteInt(itersArg.value, "iters") : 20) : 0;
  return {
    connection,
    vocab: model.vocab,
    dim: model.dim,
    context: model.context,
    layers: model.layers,
    heads: Number(attn.args["heads"]),
    hidden: Number(mlp.args["hidden"]),
    n: m.config.streams,
    normEps: model.normEps,
    iters,
    eps: 1e-6,
  };
}

function handwrittenStepRunner(hw: HandwrittenModel, m: ModelModule, window: number): StepRunner {
  const init = m.initParameters(0);
  const vars = Object.fromEntries(m.parameterSpecs.map((s) => [s.name, tf.variable(init[s.name]!, true)]));
  tf.dispose(Object.values(init));
  const varList = Object.values(vars);
  const optimizer = tf.train.adam(LR);
  return {
    step(tokens) {
      const { ms, cpuMs, value: loss } = timed(() => {
        const batch = tf.tensor2d(tokens, [BATCH, window], "int32");
        const cost = optimizer.minimize(() => hw.loss(vars, batch), true, varList)!;
        const result = cost.dataSync()[0]!;
        tf.dispose([cost, batch]);
        return result;
      });
      return { ms, cpuMs, loss };
    },
    dispose() {
      optimizer.dispose();
      tf.dispose(varList);
    },
  };
}

const backend = await selectBackend({ backend: backendName });
const checked = checkFiles(["examples/tiny.mhc"], { cwd: process.cwd() });
const corpus = loadCorpus(undefined, 64);
if (!corpus.ok) throw new Error(corpus.diagnostic.message);

const rows: Record<string, unknown>[] = [];
for (const [name, connection] of MODELS) {
  const model = checked.checked.models.get(name)!;
  const generated = (await compileModel(checked, model, "bench")).module;
  const hw = handwrittenModel(configOf(model, connection, generated));
  const window = model.context + 1;
  const data = batches(corpus.corpus.train, STEPS, BATCH, window);

  // The same work: both losses of the same parameters on the same tokens.
  const params = generated.initParameters(0);
  const tokens = tf.tensor2d(data[0]!, [BATCH, window], "int32");
  const lossGenerated = tf.tidy(() => generated.loss(params, tokens).dataSync()[0]!);
  const lossHandwritten = tf.tidy(() => hw.loss(params, tokens).dataSync()[0]!);
  tf.dispose([tokens, ...Object.values(params)]);
  const lossDifference = Math.abs(lossGenerated - lossHandwritten) / Math.abs(lossHandwritten);
  if (!(lossDifference < 1e-5)) throw new Error(`${name}: the generated loss ${lossGenerated} and the hand-written ${lossHandwritten} differ: not the same model`);

  const expert = handwrittenModel({ ...configOf(model, connection, generated), explicitTransposes: true });
  const lossExpert = tf.tidy(() => {
    const p = generated.initParameters(0);
    const t = tf.tensor2d(data[0]!, [BATCH, window], "int32");
    return expert.loss(p, t).dataSync()[0]!;
  });
  if (lossExpert !== lossHandwritten) throw new Error(`${name}: the hand-written variants compute different losses`);
  const runners: Record<Variant, () => StepRunner> = {
    generated: () => generatedStepRunner(generated, BATCH, LR),
    handwritten: () => handwrittenStepRunner(hw, generated, window),
    handwrittenExplicitTransposes: () => handwrittenStepRunner(expert, generated, window),
  };
  const times = Object.fromEntries(VARIANTS.map((v) => [v, { ms: [] as number[], cpuMs: [] as number[] }])) as Record<Variant, { ms: number[]; cpuMs: number[] }>;
  for (let round = 0; round < ROUNDS; round++) {
    // a different variant first in each round
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    for (const which of order) {
      const runner = runners[which]();
      data.forEach((batch, i) => {
        const { ms, cpuMs } = runner.step(batch);
        if (i > 0) {
          times[which].ms.push(ms);
          times[which].cpuMs.push(cpuMs);
        }
      });
      runner.dispose();
    }
  }
  const kernels: Record<string, number> = {};
  for (const which of VARIANTS) {
    const runner = runners[which]();
    runner.step(data[0]!);
    kernels[which] = await kernelsPerStep(runner, data[1] ?? data[0]!);
    runner.dispose();
  }
  hw.dispose();
  expert.dispose();
  const stats = (v: Variant) => ({ wallMs: median(times[v].ms), cpuMs: median(times[v].cpuMs) });
  const gen = stats("generated");
  const hand = stats("handwritten");
  const handExpert = stats("handwrittenExplicitTransposes");
  const ratio = { wall: gen.wallMs / hand.wallMs, cpu: gen.cpuMs / hand.cpuMs };
  const ratioExpert = { wall: gen.wallMs / handExpert.wallMs, cpu: gen.cpuMs / handExpert.cpuMs };
  const row = {
    model: name,
    connection,
    medianStep: { generated: gen, handwritten: hand, handwrittenExplicitTransposes: handExpert },
    ratio,
    ratioToExplicitTransposes: ratioExpert,
    withinGoal: ratio.wall <= GOAL && ratio.cpu <= GOAL,
    kernelsPerStep: kernels,
    sameLoss: { generated: lossGenerated, handwritten: lossHandwritten, relativeDifference: lossDifference },
    samples: times.generated.ms.length,
  };
  rows.push(row);
  console.log(
    `${name.padEnd(14)} generated ${gen.wallMs.toFixed(1).padStart(6)} ms (cpu ${gen.cpuMs.toFixed(1)})  hand-written ${hand.wallMs.toFixed(1).padStart(6)} ms (cpu ${hand.cpuMs.toFixed(1)})  ratio ${ratio.wall.toFixed(2)} (cpu ${ratio.cpu.toFixed(2)})` +
      `  | hand-written, explicit transposes ${handExpert.wallMs.toFixed(1)} ms: ratio ${ratioExpert.wall.toFixed(2)} (cpu ${ratioExpert.cpu.toFixed(2)})  | kernels ${kernels["generated"]} / ${kernels["handwritten"]} / ${kernels["handwrittenExplicitTransposes"]}  | loss ${lossGenerated.toFixed(6)} / ${lossHandwritten.toFixed(6)}`,
  );
}

const date = new Date().toISOString();
const out = {
  benchmark: "tfjs-train-step",
  what: "one training step (forward, backward, Adam) of the generated model vs a hand-written tfjs model: median wall-clock and CPU ms of this process",
  date,
  machine: machine(),
  backend: backend.name,
  batch: BATCH,
  stepsPerRound: STEPS,
  rounds: ROUNDS,
  goalRatio: GOAL,
  models: rows,
};
mkdirSync("bench/results", { recursive: true });
const file = join("bench/results", `tfjs-train-step-${backend.name}-${date.slice(0, 10)}.json`);
writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${file}`);
