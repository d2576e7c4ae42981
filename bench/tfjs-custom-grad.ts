/**
 * What the connections' custom gradients (one `tf.customGrad` per map, backward from the
 * IR's autodiff) save in a training step, on the tiny comparison of examples/tiny.mhc
 * (run: `npx tsx bench/tfjs-custom-grad.ts [wasm|cpu] [steps]`).
 *
 * For each model, the generated modules with and without the custom gradients, trained on
 * the same batches from the same initial parameters; rounds alternate the two builds so
 * that other load on the machine falls on both alike. Reports the median step time of
 * each, wall-clock and CPU (the first step of a round, which warms up, is left out), and
 * the kernels one step dispatches; checks that both
 * builds compute the same first loss (the forward is identical). Writes
 * bench/results/tfjs-custom-grad-<backend>-<date>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkFiles } from "../compiler/driver.js";
import { loadCorpus } from "../compiler/train/corpus.js";
import { compileModel, type ModelModule } from "../compiler/train/model.js";
import { selectBackend, type BackendName } from "../runtime/tfjs/backend.js";
import { batches, generatedStepRunner, kernelsPerStep, machine, median } from "./tfjs-common.js";

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
  const times = new Map<string, { ms: number[]; cpuMs: number[] }>(builds.map(([label]) => [label, { ms: [], cpuMs: [] }]));
  const firstLoss = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [label, module] of round % 2 === 0 ? builds : [...builds].reverse()) {
      const runner = generatedStepRunner(module, BATCH, LR);
      data.forEach((tokens, i) => {
        const { ms, cpuMs, loss } = runner.step(tokens);
        if (i > 0) {
          times.get(label)!.ms.push(ms);
          times.get(label)!.cpuMs.push(cpuMs);
        }
        if (i === 0 && !firstLoss.has(label)) firstLoss.set(label, loss);
      });
      runner.dispose();
    }
  }
  const kernels: Record<string, number> = {};
  for (const [label, module] of builds) {
    const runner = generatedStepRunner(module, BATCH, LR);
    runner.step(data[0]!);
    kernels[label] = await kernelsPerStep(runner, data[1]!);
    runner.dispose();
  }
  const stats = (label: string) => ({ wallMs: median(times.get(label)!.ms), cpuMs: median(times.get(label)!.cpuMs) });
  const fused = stats("custom gradients");
  const tape = stats("tfjs tape");
  const row = {
    model: name,
    medianStep: { customGradients: fused, tfjsTape: tape },
    speedup: { wall: tape.wallMs / fused.wallMs, cpu: tape.cpuMs / fused.cpuMs },
    kernelsPerStep: kernels,
    firstLoss: Object.fromEntries(firstLoss),
    sameFirstLoss: firstLoss.get("custom gradients") === firstLoss.get("tfjs tape"),
    samples: times.get("custom gradients")!.ms.length,
  };
  rows.push(row);
  console.log(
    `${name.padEnd(14)} custom gradients ${fused.wallMs.toFixed(1)} ms (cpu ${fused.cpuMs.toFixed(1)})   tfjs tape ${tape.wallMs.toFixed(1)} ms (cpu ${tape.cpuMs.toFixed(1)})   x${row.speedup.wall.toFixed(2)} (cpu x${row.speedup.cpu.toFixed(2)})   kernels ${kernels["custom gradients"]} / ${kernels["tfjs tape"]}   same first loss: ${row.sameFirstLoss}`,
  );
}

const date = new Date().toISOString();
const out = { benchmark: "tfjs-custom-grad", date, machine: machine(), backend: backend.name, batch: BATCH, context: 64, stepsPerRound, rounds: ROUNDS, models: rows };
mkdirSync("bench/results", { recursive: true });
const file = join("bench/results", `tfjs-custom-grad-${backend.name}-${date.slice(0, 10)}.json`);
writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${file}`);
