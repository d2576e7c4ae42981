/**
 * What the connections' custom gradients (one `tf.customGrad` per map, backward from the
 * IR's autodiff) save in a training step, on the tiny comparison of examples/tiny.mhc
 * (run: `npx tsx bench/tfjs-custom-grad.ts [wasm|cpu] [steps]`).
 *
 * For each model, the generated modules with and without the custom gradients, trained on
 * the same batches from the same initial parameters; rounds alternate the two builds so
 * that other load on the machine falls on both alike. Reports the median step time of
 * each (the first step of a round, which warms up, is left out) and checks that both
 * builds compute the same first loss (the forward is identical). Writes
 * bench/results/tfjs-custom-grad-<backend>-<date>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkFiles } from "../compiler/driver.js";
import { loadCorpus } from "../compiler/train/corpus.js";
import { compileModel, type ModelModule } from "../compiler/train/model.js";
import { selectBackend, type BackendName } from "../runtime/tfjs/backend.js";
import { batches, generatedStepRunner, machine, median } from "./tfjs-common.js";

const backendName = (process.argv[2] ?? "wasm") as BackendName;
const stepsPerRound = Number(process.argv[3] ?? 6);
const ROUNDS = 5;
const MODELS = ["tiny_residual", "tiny_hc", "tiny_mhc"];
const BATCH = 8;
const LR = 3e-3;

const backend = await selectBackend({ backend: backendName });
const checked = checkFiles(["examples/tiny.mhc"], { cwd: process.cwd() });
const loaded = loadCorpus(undefined, 64);
if (!loaded.ok) throw new Error(loaded.diagnostic.message);

const rows: Record<string, unknown>[] = [];
for (const name of MODELS) {
  const model = checked.checked.models.get(name)!;
  const builds: [string, ModelModule][] = [
    ["custom gradients", (await compileModel(checked, model, "bench", { customGradients: true })).module],
    ["tfjs tape", (await compileModel(checked, model, "bench", { customGradients: false })).module],
  ];
  const data = batches(loaded.corpus.train, stepsPerRound, BATCH, model.context + 1);
  const times = new Map<string, number[]>(builds.map(([label]) => [label, []]));
  const firstLoss = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, module] of round % 2 === 0 ? builds : [...builds].reverse()) {
      const runner = generatedStepRunner(module, BATCH, LR);
      data.forEach((tokens, i) => {
        const { ms, loss } = runner.step(tokens);
        if (i > 0) times.get(label)!.push(ms);
        if (i === 0 && !firstLoss.has(label)) firstLoss.set(label, loss);
      });
      runner.dispose();
    }
  }
  const fused = median(times.get("custom gradients")!);
  const tape = median(times.get("tfjs tape")!);
  const row = {
    model: name,
    medianStepMs: { customGradients: fused, tfjsTape: tape },
    speedup: tape / fused,
    firstLoss: Object.fromEntries(firstLoss),
    sameFirstLoss: firstLoss.get("custom gradients") === firstLoss.get("tfjs tape"),
    samples: times.get("custom gradients")!.length,
  };
  rows.push(row);
  console.log(`${name.padEnd(14)} custom gradients ${fused.toFixed(1)} ms   tfjs tape ${tape.toFixed(1)} ms   x${row.speedup.toFixed(2)}   same first loss: ${row.sameFirstLoss}`);
}

const date = new Date().toISOString();
const out = { benchmark: "tfjs-custom-grad", date, machine: machine(), backend: backend.name, batch: BATCH, context: 64, stepsPerRound, rounds: ROUNDS, models: rows };
mkdirSync("bench/results", { recursive: true });
const file = join("bench/results", `tfjs-custom-grad-${backend.name}-${date.slice(0, 10)}.json`);
writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${file}`);
