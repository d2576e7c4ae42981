import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interpret, reachableNodes } from "../../../compiler/ir/interpret.js";
import { makeTensor, type Tensor } from "../../../compiler/ir/tensor.js";
import { buildSublayerGraph } from "../../../compiler/lower/sublayer-graph.js";
import { differentiate, gradientOutputName, seedInputName } from "../../../compiler/passes/autodiff.js";
import type { CheckResult } from "../../../compiler/driver.js";
import type { CheckedConnection } from "../../../compiler/sema/checked.js";
import { ensureGradients } from "../../../runtime/tfjs/backend.js";
import { randomTensor, rng } from "../../passes/grad-check.js";
import { checkExample, instantiate, loadConnection, scratchDir, type LoadedModule } from "./helpers.js";

/*
 * The generated TensorFlow.js modules against the float64 IR interpreter (forward) and
 * the IR's reverse-mode autodiff (gradients), on odd shapes. The generated code runs in
 * float32, so the tolerances are float32 ones: max |tfjs - reference| / max |reference|
 * per tensor below 1e-4 forward and 1e-3 for gradients. Measured errors are printed.
 */

const FORWARD_TOLERANCE = 1e-4;
const GRADIENT_TOLERANCE = 1e-3;
const C = 96;
const OUTPUTS = ["y", "u", "H_pre", "H_post", "H_res"] as const;

let result: CheckResult;
let scratch: ReturnType<typeof scratchDir>;
const measured: { case: string; forward: number; gradient: number }[] = [];

beforeAll(async () => {
  result = checkExample();
  scratch = scratchDir("codegen-tfjs-numerics-");
  const gradients = await ensureGradients();
  expect(gradients.ok, gradients.how).toBe(true);
  await tf.setBackend("cpu");
});

afterAll(() => {
  scratch?.remove();
  if (measured.length > 0) {
    const rows = measured.map((m) => `  ${m.case.padEnd(40)} forward ${m.forward.toExponential(2)}  gradient ${m.gradient.toExponential(2)}`);
    console.info(`max relative errors (tfjs float32 vs float64 IR):\n${rows.join("\n")}`);
  }
});

/** max |a - b| / max |b| (the error relative to the tensor's scale). */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  return scale === 0 ? diff : diff / scale;
}

interface Case {
  readonly conn: CheckedConnection;
  readonly module: LoadedModule;
  readonly inputs: Record<string, Tensor>;
  readonly T: number;
}

const loaded = new Map<string, LoadedModule>();

async function prepare(name: string, args: Record<string, number>, T: number, seed: number): Promise<Case> {
  const conn = instantiate(result, name, args);
  const tag = `${name}${Object.entries(args).map(([k, v]) => `_${k}${v}`).join("")}`;
  let module = loaded.get(tag);
  if (!module) {
    module = (await loadConnection(result, conn, scratch.dir, tag)).module;
    loaded.set(tag, module);
  }
  const random = rng(seed);
  const n = module.n;
  const inputs: Record<string, Tensor> = { x: randomTensor([T, n, C], random, -2, 2), f: randomTensor([T, C], random, -1, 1) };
  for (const spec of module.parameterSpecs) {
    const shape = module.parameterShapes(C)[spec.name]!;
    if (spec.name === "alpha") inputs[spec.name] = makeTensor([3], [0.7, -0.9, 1.3]);
    else if (spec.name.startsWith("phi_")) inputs[spec.name] = randomTensor(shape, random, -0.1, 0.1);
    else inputs[spec.name] = randomTensor(shape, random, -1, 1);
  }
  return { conn, module, inputs, T };
}

const toTf = (t: Tensor): tf.Tensor => tf.tensor(Float32Array.from(t.data), [...t.shape], "float32");

function parameterTensors(c: Case): Record<string, tf.Tensor> {
  return Object.fromEntries(c.module.parameterSpecs.map((s) => [s.name, toTf(c.inputs[s.name]!)]));
}

/** Forward on the active backend against the interpreter; returns the largest error. */
function checkForward(c: Case): number {
  const { graph } = buildSublayerGraph(result.checked, c.conn, { sublayer: "input", dtype: "f64" });
  const expected = interpret(graph, c.inputs);
  const params = parameterTensors(c);
  const x = toTf(c.inputs["x"]!);
  const f = toTf(c.inputs["f"]!);
  const out = c.module.sublayer(params, x, f);
  let worst = 0;
  for (const name of OUTPUTS) {
    expect(out[name]!.shape).toEqual(expected[name]!.shape);
    const error = relativeError(out[name]!.dataSync(), expected[name]!.data);
    expect(error, `${name}`).toBeLessThan(FORWARD_TOLERANCE);
    worst = Math.max(worst, error);
  }
  tf.dispose([out, params, x, f]);
  return worst;
}

/**
 * Gradients of sum(y * W) against the IR's reverse-mode autodiff, w.r.t. x and every
 * parameter y depends on. `F` is the identity (`sublayer: "identity"` in the IR), so
 * that the pre map's parameters reach y through u; with `withF`, F is given as the
 * input f instead and f gets a gradient too (the pre map then does not reach y).
 */
function checkGradients(c: Case, seed: number, withF = false): number {
  const { graph } = buildSublayerGraph(result.checked, c.conn, { sublayer: withF ? "input" : "identity", dtype: "f64" });
  const all = [...(withF ? ["x", "f"] : ["x"]), ...c.module.parameterSpecs.map((s) => s.name)];
  const reference = differentiate(graph, { of: "y", wrt: all, seed: "input" });
  const W = randomTensor([c.T, c.module.n, C], rng(seed), -1, 1);
  const { f: _unused, ...withoutF } = c.inputs;
  const expected = interpret(reference, { ...(withF ? c.inputs : withoutF), [seedInputName("y")]: W });
  // tfjs refuses gradients w.r.t. inputs y does not depend on (the residual's
  // parameters, the pre map when f is given); the reference must give zeros there.
  const live = reachableNodes([graph.findOutput("y")!]);
  const used = all.filter((name) => live.some((node) => node.op === "input" && node.attrs["name"] === name));
  for (const name of all.filter((nm) => !used.includes(nm))) {
    expect(expected[gradientOutputName(name)]!.data.every((v) => v === 0), `reference gradient of unused ${name}`).toBe(true);
  }
  const params = parameterTensors(c);
  const x = toTf(c.inputs["x"]!);
  const f = toTf(c.inputs["f"]!);
  const w = toTf(W);
  const grads = tf.tidy(() =>
    tf.grads((...vs: tf.Tensor[]) => {
      const values: Record<string, tf.Tensor> = { ...params, x, f, ...Object.fromEntries(used.map((name, i) => [name, vs[i]!])) };
      const F = withF ? values["f"] : (u: tf.Tensor) => u;
      return tf.sum(tf.mul(c.module.sublayer(values, values["x"], F)["y"]!, w));
    })(used.map((name) => (name === "x" ? x : name === "f" ? f : params[name]!))),
  );
  let worst = 0;
  used.forEach((name, i) => {
    const error = relativeError(grads[i]!.dataSync(), expected[gradientOutputName(name)]!.data);
    expect(error, `gradient of ${name}`).toBeLessThan(GRADIENT_TOLERANCE);
    worst = Math.max(worst, error);
  });
  tf.dispose([grads, params, x, f, w]);
  return worst;
}

const CASES: readonly { name: string; args: Record<string, number>; T: number }[] = [
  { name: "mhc", args: { n: 1 }, T: 7 },
  { name: "mhc", args: { n: 3 }, T: 7 },
  { name: "mhc", args: {}, T: 1 },
  { name: "mhc", args: {}, T: 7 },
  { name: "mhc", args: { n: 8 }, T: 7 },
  { name: "hc", args: {}, T: 7 },
  { name: "hc", args: { n: 3 }, T: 1 },
  { name: "residual", args: {}, T: 7 },
  { name: "mhc_lite", args: { n: 3 }, T: 7 },
  { name: "mhc_lite", args: {}, T: 1 },
  { name: "tempered", args: {}, T: 7 },
  { name: "lazy", args: { n: 3 }, T: 7 },
];

describe("generated tfjs modules on the cpu backend match the IR", () => {
  CASES.forEach(({ name, args, T }, i) => {
    const label = `${name}(${Object.entries(args).map(([k, v]) => `${k} = ${v}`).join(", ")}) T = ${T}, C = ${C}`;
    it(`${label}: forward within ${FORWARD_TOLERANCE}, gradients within ${GRADIENT_TOLERANCE}`, async () => {
      const c = await prepare(name, args, T, 100 + i);
      const forward = checkForward(c);
      const gradient = checkGradients(c, 200 + i);
      measured.push({ case: `cpu ${label}`, forward, gradient });
    });
  });

  it("calls F once on u when given a function, and pre/post compose to sublayer", async () => {
    const c = await prepare("mhc", { n: 3 }, 7, 7);
    const params = parameterTensors(c);
    const x = toTf(c.inputs["x"]!);
    let calls = 0;
    const F = (u: tf.Tensor) => {
      calls++;
      return tf.tanh(u);
    };
    const out = c.module.sublayer(params, x, F);
    expect(calls).toBe(1);
    // Reference: u from the interpreter, f = tanh(u) in float64, then y.
    const { graph } = buildSublayerGraph(result.checked, c.conn, { sublayer: "input", dtype: "f64" });
    const u = interpret(graph, c.inputs)["u"]!;
    const f = makeTensor(u.shape, u.data.map(Math.tanh));
    const expected = interpret(graph, { ...c.inputs, f });
    expect(relativeError(out["y"]!.dataSync(), expected["y"]!.data)).toBeLessThan(FORWARD_TOLERANCE);
    const state = c.module.pre(params, x);
    const y = tf.tidy(() => c.module.post(params, x, tf.tanh(state["u"]!), state));
    expect(relativeError(y.dataSync(), out["y"]!.dataSync())).toBe(0);
    tf.dispose([out, state, y, params, x]);
    // Gradients w.r.t. f itself (F given as a tensor).
    measured.push({ case: "cpu mhc(n = 3) T = 7, f given", forward: 0, gradient: checkGradients(c, 8, true) });
  });

  it("rejects inputs of the wrong shape with a clear error", async () => {
    const c = await prepare("mhc", {}, 1, 3);
    const params = parameterTensors(c);
    const x = tf.zeros([2, 3, C]);
    expect(() => c.module.sublayer(params, x, tf.zeros([2, C]))).toThrow(/mhc: x is float32 \[2, 3, 96\], expected float32 \[T, 4, C\]/);
    const x4 = tf.zeros([2, 4, C]);
    expect(() => c.module.sublayer({ ...params, phi_res: tf.zeros([4 * C, 15]) }, x4, tf.zeros([2, C]))).toThrow(/params\.phi_res is float32 \[384, 15\], expected float32 \[384, 16\]/);
    expect(() => c.module.sublayer(params, x4, tf.zeros([3, C]))).toThrow(/f is float32 \[3, 96\], expected float32 \[2, 96\]/);
    tf.disposeVariables();
    tf.dispose([params, x, x4]);
  });

  it("leaks no tensor: tf.memory().numTensors is flat across calls and gradient steps", async () => {
    const c = await prepare("mhc", {}, 7, 11);
    const params = Object.fromEntries(Object.entries(c.module.initParameters(C, 1)).map(([k, v]) => [k, tf.variable(v)]));
    const x = toTf(c.inputs["x"]!);
    const step = () => {
      const out = c.module.sublayer(params, x, (u: tf.Tensor) => tf.relu(u));
      tf.dispose(out);
      const state = c.module.pre(params, x);
      tf.dispose(c.module.post(params, x, state["u"]!, state));
      tf.dispose(state);
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(c.module.sublayer(params, x, (u: tf.Tensor) => tf.tanh(u))["y"]!)) as tf.Scalar);
      tf.dispose([value, grads]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, Object.values(params)]);
  });

  it("initialises parameters deterministically per seed, with the biases of the maps' init", async () => {
    const c = await prepare("mhc", {}, 1, 1);
    const a = c.module.initParameters(C, 5);
    const b = c.module.initParameters(C, 5);
    const other = c.module.initParameters(C, 6);
    expect(Array.from(a["phi_res"]!.dataSync())).toEqual(Array.from(b["phi_res"]!.dataSync()));
    expect(Array.from(a["phi_res"]!.dataSync())).not.toEqual(Array.from(other["phi_res"]!.dataSync()));
    expect(Array.from(a["phi_pre"]!.dataSync())).not.toEqual(Array.from(a["phi_post"]!.dataSync()));
    expect(Array.from(a["alpha"]!.dataSync())).toEqual([0.01, 0.01, 0.01].map(Math.fround));
    expect(Array.from(a["bias_res"]!.dataSync())).toEqual([0, -8, -8, -8, -8, 0, -8, -8, -8, -8, 0, -8, -8, -8, -8, 0]);
    expect(a["phi_pre"]!.shape).toEqual([4 * C, 4]);
    const std = Math.sqrt(tf.tidy(() => tf.mean(tf.square(a["phi_res"]!)).dataSync()[0]!));
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    tf.dispose([a, b, other]);
  });
});

describe("generated tfjs modules on the wasm backend", () => {
  it("mhc T = 7, C = 96: forward and gradients match the IR", async () => {
    expect(await tf.setBackend("wasm")).toBe(true);
    try {
      const c = await prepare("mhc", {}, 7, 300);
      const forward = checkForward(c);
      const gradient = checkGradients(c, 301);
      measured.push({ case: `wasm mhc() T = 7, C = ${C}`, forward, gradient });
    } finally {
      await tf.setBackend("cpu");
    }
  });
});
