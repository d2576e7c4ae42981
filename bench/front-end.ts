/**
 * Front-end speed (run: `npm run bench:front-end`; builds first).
 *
 * 1. Checking a generated 128-layer model plus a generated 5,000-line file of
 *    constraints, in-process after start-up (median of several runs).
 * 2. Start-up: `mhc check` on one example against `node -e 0`, alternating
 *    runs on the same machine, median ratio.
 *
 * Prints a table and writes JSON to bench/results/front-end-<host>-<date>.json.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { checkFiles } from "../compiler/driver.js";

const LAYERS = 128;
const TARGET_LINES = 5000;

function generateConstraints(): { text: string; names: string[] } {
  const lines: string[] = ["// generated: many constraints of realistic shape"];
  const names: string[] = [];
  for (let i = 0; lines.length < TARGET_LINES; i++) {
    const name = `gen_${i}`;
    names.push(name);
    lines.push(
      `constraint ${name}(L: [n, n], iters: int = ${4 + (i % 7)}, eps: float = 1e-6, t: float = ${(1 + (i % 5) / 10).toFixed(1)}) -> [n, n] {`,
      `  let M = softmax_cols(L / t) + eps`,
      `  let D = eye(n) * 0.5 + ones([n, n]) / (2 * n)`,
      `  M = M / (rowsum(M) + eps)`,
      `  repeat iters - 1 {`,
      `    M = M / (colsum(M) + eps)`,
      `    M = M / (rowsum(M) + eps)`,
      `    M = 0.9 * M + 0.1 * D @ M.T @ D`,
      `  }`,
      `  let S = clamp(M, 0, 1) + abs(L) * 0`,
      `  S = S / (rowsum(S) + eps)`,
      `  return S`,
      `}`,
      ``,
    );
  }
  return { text: lines.join("\n") + "\n", names };
}

function generateModel(constraintNames: readonly string[]): string {
  const connections = constraintNames.slice(0, 32).map(
    (name, i) => `connection conn_${i}(n: int = ${2 + (i % 7)}) {
  streams n
  norm rms(eps = 1e-6)
  pre dynamic sigmoid_eps()
  post dynamic scaled_sigmoid(scale = 2.0)
  res dynamic ${name}(iters = ${3 + (i % 4)}) init (eye(n) - 1) * 8
}`,
  );
  const sublayers = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? `    attention(heads = 8) with conn_${i}()` : `    mlp(hidden = 4096, act = swiglu) with conn_${i}()`));
  return `import "./constraints.mhc"
${connections.join("\n")}
model big {
  vocab 129280
  dim 4096
  context 4096
  layers ${LAYERS}
  connection mhc(n = 4)
  block {
${sublayers.join("\n")}
  }
}
`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeInProcess(dir: string): { runs: number[]; lines: number; diagnostics: number } {
  const runs: number[] = [];
  let diagnostics = 0;
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    const result = checkFiles([join(dir, "model.mhc")], { cwd: dir });
    runs.push(performance.now() - start);
    diagnostics = result.diagnostics.length;
  }
  return { runs, lines: 0, diagnostics };
}

function wallTime(command: string, args: string[]): number {
  const start = performance.now();
  const result = spawnSync(command, args, { stdio: "ignore" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}`);
  return performance.now() - start;
}

const dir = mkdtempSync(join(tmpdir(), "mhc-bench-"));
const constraints = generateConstraints();
writeFileSync(join(dir, "constraints.mhc"), constraints.text);
writeFileSync(join(dir, "model.mhc"), generateModel(constraints.names));
const constraintLines = constraints.text.split("\n").length;

const inProcess = timeInProcess(dir);
if (inProcess.diagnostics > 0) throw new Error(`the generated program has ${inProcess.diagnostics} diagnostics`);

const nodeRuns: number[] = [];
const checkRuns: number[] = [];
for (let i = 0; i < 15; i++) {
  nodeRuns.push(wallTime(process.execPath, ["-e", "0"]));
  checkRuns.push(wallTime(process.execPath, ["dist/mhc.cjs", "check", "examples/tiny.mhc"]));
}

const result = {
  date: new Date().toISOString(),
  machine: { host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version },
  large: { layers: LAYERS, constraintLines, constraints: constraints.names.length, medianMs: median(inProcess.runs), runsMs: inProcess.runs, goalMs: 300 },
  startup: { nodeMedianMs: median(nodeRuns), checkMedianMs: median(checkRuns), ratio: median(checkRuns) / median(nodeRuns), goalRatio: 2 },
};

console.log(`front end, ${result.machine.cpu} x${result.machine.cpus}, node ${process.version}`);
console.log(`  check ${LAYERS}-layer model + ${constraintLines}-line constraint file: median ${result.large.medianMs.toFixed(1)} ms (goal < 300 ms)`);
console.log(`  start-up: node -e 0 ${result.startup.nodeMedianMs.toFixed(0)} ms, mhc check examples/tiny.mhc ${result.startup.checkMedianMs.toFixed(0)} ms, ratio ${result.startup.ratio.toFixed(2)}x (goal < 2x)`);
mkdirSync("bench/results", { recursive: true });
const out = join("bench/results", `front-end-${result.date.slice(0, 10)}.json`);
writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
console.log(`  wrote ${out}`);
