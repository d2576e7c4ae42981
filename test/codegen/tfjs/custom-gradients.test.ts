import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateConnectionModule } from "../../../compiler/codegen/tfjs/index.js";
import type { CheckResult } from "../../../compiler/driver.js";
import { ensureGradients } from "../../../runtime/tfjs/backend.js";
import { checkExample, COMPILER_VERSION, instantiate, scratchDir, type LoadedModule } from "./helpers.js";

/*
 * The coefficients of each map as one `tf.customGrad` (backward from the IR's autodiff)
 * against the same module without them (every op on the tfjs tape): the forward values
 * are bit for bit the same, the gradients agree to float32 rounding, and the tape holds a
 * handful of nodes for `pre` instead of hundreds. (numerics.test.ts checks both against
 * the float64 interpreter and the IR's autodiff.)
 */

const C = 24;
const CASES: readonly [string, Record<string, number>][] = [
  ["mhc", {}],
  ["mhc", { n: 3 }],
  ["hc", {}],
  ["mhc_lite", {}],
  ["tempered", {}],
  ["lazy", { n: 3 }],
  // sinkhorn_log's backward reads the forward's log-sum-exps through broadcasts; pre has
  // eps = 0, so its result is itself a saved value.
  ["paper_mhc", {}],
];
/** Connections of other files than examples/my-constraint.mhc. */
const FILE_OF: Readonly<Record<string, string>> = { paper_mhc: "examples/paper-27b.mhc" };
const GRADIENT_AGREEMENT = 1e-5;

let result: CheckResult;
const others = new Map<string, CheckResult>();
let scratch: ReturnType<typeof scratchDir>;

beforeAll(async () => {
  result = checkExample();
  scratch = scratchDir("codegen-tfjs-custom-grad-");
  expect((await ensureGradients()).ok).toBe(true);
});
afterAll(() => scratch?.remove());

async function load(name: string, args: Record<string, number>, customGradients: boolean): Promise<{ module: LoadedModule; text: string }> {
  const source = FILE_OF[name];
  if (source && !others.has(source)) others.set(source, checkExample(source));
  const checked = source ? others.get(source)! : result;
  const { file } = await generateConnectionModule(checked, instantiate(checked, name, args), { compilerVersion: COMPILER_VERSION, customGradients });
  const tag = `${name}${Object.entries(args).map(([k, v]) => `_${k}${v}`).join("")}_${customGradients ? "custom" : "tape"}`;
  const path = join(scratch.dir, `${tag}.mjs`);
  writeFileSync(path, (await transform(file.text, { loader: "ts", format: "esm", target: "es2022" })).code);
  return { module: (await import(pathToFileURL(path).href)) as LoadedModule, text: file.text };
}

interface TapeNode {
  readonly inputs: Readonly<Record<string, tf.Tensor>>;
  readonly outputs: readonly tf.Tensor[];
}

/**
 * The tape nodes that backpropagation from `f`'s results walks through (tfjs's engine
 * state; the clones it records for saved tensors are not on that path).
 */
function backwardTapeNodes(x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor[]): number {
  const engine = tf.engine() as unknown as { state: { activeTape: TapeNode[] | null } };
  let count = 0;
  tf.grad((input: tf.Tensor) => {
    const before = engine.state.activeTape!.length;
    const outs = f(input);
    const nodes = engine.state.activeTape!.slice(before);
    const needed = new Set(outs.map((t) => t.id));
    for (const node of [...nodes].reverse()) {
      if (!node.outputs.some((o) => needed.has(o.id))) continue;
      count++;
      for (const t of Object.values(node.inputs)) needed.add(t.id);
    }
    return tf.addN(outs.map((o) => tf.sum(o)));
  })(x);
  return count;
}

const maxRelative = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return scale === 0 ? diff : diff / scale;
};

// Every case on cpu; on wasm (the default backend), one constrained and one unconstrained connection.
const RUNS = [...CASES.map(([name, args]) => ["cpu", name, args] as const), ["wasm", "mhc", {}] as const, ["wasm", "hc", {}] as const];

describe("custom gradients of the coefficients", () => {
  it.each(RUNS)("%s: %s %j: the same forward bit for bit, the same gradients, a short tape", async (backend, name, args) => {
    await tf.setBackend(backend);
    const custom = await load(name, args, true);
    const tape = await load(name, args, false);
    expect(custom.text).toMatch(/const resCoefficients = tf\.customGrad\(/);
    expect(tape.text).not.toContain("tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {\n  const [");
    const n = custom.module.n;
    const T = 5;
    const params = custom.module.initParameters(C, 4);
    // Non-trivial coefficients: alpha away from its tiny init.
    const alpha = tf.tensor1d([0.7, -0.9, 1.3]);
    const p = { ...params, alpha };
    const x = tf.randomNormal([T, n, C], 0, 1, "float32", 9);
    const F = (u: tf.Tensor) => tf.tanh(u);
    const a = custom.module.sublayer(p, x, F);
    const b = tape.module.sublayer(p, x, F);
    for (const key of ["y", "u", "H_pre", "H_post", "H_res"]) expect(Array.from(a[key]!.dataSync()), key).toEqual(Array.from(b[key]!.dataSync()));

    const names = Object.keys(p);
    const gradients = (m: LoadedModule) =>
      tf.grads((...vs: tf.Tensor[]) => {
        const values = Object.fromEntries(names.map((k, i) => [k, vs[i + 1]!]));
        return tf.sum(tf.mul(m.sublayer(values, vs[0], F)["y"]!, tf.cos(vs[0]!)));
      })([x, ...names.map((k) => p[k as keyof typeof p]!)]);
    const ga = gradients(custom.module);
    const gb = gradients(tape.module);
    ["x", ...names].forEach((k, i) => expect(maxRelative(ga[i]!.dataSync(), gb[i]!.dataSync()), `gradient of ${k}`).toBeLessThan(GRADIENT_AGREEMENT));

    // `pre` on the tape: the norm r and the flattened x, then one node per map's coefficients.
    const preNodes = (m: LoadedModule) => backwardTapeNodes(x, (input) => Object.values(m.pre(p, input as tf.Tensor3D)));
    const [short, long] = [preNodes(custom.module), preNodes(tape.module)];
    expect(short).toBeLessThan(12);
    expect(long).toBeGreaterThan(short + 10);
    tf.dispose([params, alpha, x, a, b, ga, gb]);
  });
});
