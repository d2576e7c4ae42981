/**
 * Reference-interpreter speed (run: `npx tsx bench/interpreter.ts`).
 *
 * Interprets the prelude's `sinkhorn` (n = 4, 20 iterations, float64) on
 * 10,000 tokens of seeded Gaussian logits: the workload of `mhc eval` and of
 * every `mhc lab` measurement. Goal: under 1 s. Also times the float32
 * rounding mode and forward + reverse-mode gradient (the lab's gradient
 * norms), for context. Median of several runs after one warm-up run.
 *
 * Prints a summary and writes bench/results/interpreter-<date>.json with the
 * machine described.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { arch, cpus, hostname, platform, totalmem } from "node:os";
import { join } from "node:path";
import { checkFiles } from "../compiler/driver.js";
import { Builder } from "../compiler/ir/builder.js";
import { interpret, type Precision } from "../compiler/ir/interpret.js";
import { makeTensor } from "../compiler/ir/tensor.js";
import type { Graph } from "../compiler/ir/graph.js";
import { gaussianStream } from "../compiler/lab/sampling.js";
import { buildConstraintGraph } from "../compiler/lower/constraint-graph.js";
import { differentiate } from "../compiler/passes/autodiff.js";

const TOKENS = 10_000;
const N = 4;
const RUNS = 7;
const GOAL_MS = 1000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(graph: Graph, inputs: Parameters<typeof interpret>[1], precision: Precision, outputs: string[]): number[] {
  interpret(graph, inputs, { precision, outputs }); // warm-up (JIT)
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    interpret(graph, inputs, { precision, outputs });
    runs.push(performance.now() - start);
  }
  return runs;
}

const checked = checkFiles(["examples/tiny.mhc"]).checked;
const sig = checked.constraints.get(checked.program.prelude!.absPath)!.get("sinkhorn")!;
const args = new Map<string, number>();
const forward = buildConstraintGraph(checked, sig, N, args, [N, N], { batch: ["T"] });
const L = makeTensor([TOKENS, N, N], gaussianStream(TOKENS * N * N, 0, "bench"));

const withLoss = buildConstraintGraph(checked, sig, N, args, [N, N], { batch: ["T"] });
const b = new Builder(withLoss.graph, { dtype: "f64" });
const G = b.input("G", withLoss.result.shape);
withLoss.graph.output("loss", b.sumAll(b.mul(withLoss.result, G)));
const gradient = differentiate(withLoss.graph, { of: "loss", wrt: ["L"] });
const Gv = makeTensor([TOKENS, N, N], gaussianStream(TOKENS * N * N, 0, "bench-cotangent"));

const f64 = time(forward.graph, { L }, "f64", ["H"]);
const f32 = time(forward.graph, { L }, "f32", ["H"]);
const grad = time(gradient, { L, G: Gv }, "f64", ["H", "grad_L"]);

const cpu = cpus();
const result = {
  date: new Date().toISOString(),
  machine: { host: hostname(), platform: `${platform()} ${arch()}`, cpus: cpu.length, cpu: cpu[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  workload: { constraint: "sinkhorn", n: N, iters: 20, tokens: TOKENS, graphNodes: forward.graph.nodes.length, gradientGraphNodes: gradient.nodes.length },
  forwardF64: { medianMs: median(f64), runsMs: f64, goalMs: GOAL_MS },
  forwardF32: { medianMs: median(f32), runsMs: f32 },
  forwardAndGradientF64: { medianMs: median(grad), runsMs: grad },
};

const ok = result.forwardF64.medianMs < GOAL_MS;
console.log(`interpreter, ${result.machine.cpu} x${result.machine.cpus}, node ${process.version}`);
console.log(`  sinkhorn n = ${N}, 20 iterations, ${TOKENS} tokens (${result.workload.graphNodes} IR nodes)`);
console.log(`  forward float64:            median ${result.forwardF64.medianMs.toFixed(0)} ms (goal < ${GOAL_MS} ms: ${ok ? "met" : "NOT MET"})`);
console.log(`  forward float32 rounding:   median ${result.forwardF32.medianMs.toFixed(0)} ms`);
console.log(`  forward + gradient float64: median ${result.forwardAndGradientF64.medianMs.toFixed(0)} ms (${result.workload.gradientGraphNodes} IR nodes)`);
mkdirSync("bench/results", { recursive: true });
const out = join("bench/results", `interpreter-${result.date.slice(0, 10)}.json`);
writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(`  wrote ${out}`);
