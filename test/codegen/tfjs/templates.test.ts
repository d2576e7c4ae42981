import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { transformSync } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { emitNodes, ModuleData } from "../../../compiler/codegen/tfjs/emit-graph.js";
import { TFJS_TEMPLATES } from "../../../compiler/codegen/tfjs/templates.js";
import { PSEUDO_KERNELS, TF_UTILITIES, VETTED_FUNCTIONS, VETTED_TF_OPS, tfReferences, vettedKernels } from "../../../compiler/codegen/tfjs/vetted-ops.js";
import { Builder } from "../../../compiler/ir/builder.js";
import type { Graph } from "../../../compiler/ir/graph.js";
import { interpret } from "../../../compiler/ir/interpret.js";
import type { Node } from "../../../compiler/ir/node.js";
import { OP_NAMES } from "../../../compiler/ir/op-names.js";
import type { Tensor } from "../../../compiler/ir/tensor.js";
import { differentiate, gradientOutputName } from "../../../compiler/passes/autodiff.js";
import { ensureGradients } from "../../../runtime/tfjs/backend.js";
import { randomTensor, rng } from "../../passes/grad-check.js";
import { checkExample, instantiate, loadConnection, scratchDir } from "./helpers.js";

/*
 * The op -> tf.* template table: every op has a template, every template calls only
 * vetted functions, every vetted kernel exists on both the cpu and the wasm backend,
 * and the kernels the generated code really dispatches (forward and backward, seen by
 * tf.profile) are all on the vetted list. A graph that uses every op checks each
 * template's numbers and gradients against the interpreter.
 */

beforeAll(async () => {
  expect((await ensureGradients()).ok).toBe(true);
  await tf.setBackend("cpu");
});

describe("the vetted op list", () => {
  it("has a kernel on both the cpu and the wasm backend for every kernel it names", () => {
    const missing: string[] = [];
    for (const kernel of vettedKernels()) {
      for (const backend of ["cpu", "wasm"]) if (!tf.getKernel(kernel, backend)) missing.push(`${kernel} on ${backend}`);
    }
    expect(missing).toEqual([]);
    expect(tf.getKernel("Einsum", "wasm")).toBeUndefined(); // the probe can tell a missing kernel
  });

  it("covers every tf function a template calls, and every op has a template", () => {
    const ops = OP_NAMES.filter((op) => op !== "input");
    expect(Object.keys(TFJS_TEMPLATES).sort()).toEqual([...ops].sort());
    for (const op of ops) for (const fn of TFJS_TEMPLATES[op].tf) expect(VETTED_FUNCTIONS.has(fn), `${op} -> tf.${fn}`).toBe(true);
    expect(new Set(VETTED_TF_OPS.map((o) => o.fn)).size).toBe(VETTED_TF_OPS.length);
  });
});

/** A graph that uses every op of the IR (float ops on well-conditioned values). */
function everyOpGraph(): { graph: Graph; inputs: Record<string, Tensor> } {
  const b = new Builder(undefined, { dtype: "f32" });
  const a = b.input("a", ["T", 3, 4]);
  const c = b.input("c", ["T", 3, 4]);
  const m = b.input("m", [4, 5]);
  const v = b.input("v", ["T", 4, 5]);
  const s = b.input("s", [3, 3]);
  const p = b.add(b.square(a), 0.5); // positive, for log/sqrt/rsqrt/recip/pow
  const outs: Node[] = [
    b.neg(a), b.exp(a), b.log(p), b.sigmoid(a), b.tanh(a), b.abs(a), b.sign(a), b.sqrt(p), b.rsqrt(p), b.square(a), b.relu(a), b.softplus(a), b.recip(p),
    b.add(a, c), b.sub(a, c), b.mul(a, c), b.div(a, p), b.max(a, c), b.min(a, c), b.pow(p, c),
    b.where(b.gt(a, c), a, c), b.where(b.ge(a, 0), a, c), b.where(b.lt(a, c), p, a), b.where(b.le(c, 0.1), c, a), b.cast(b.eq(a, a), "f32"),
    b.sum(a, [-1], true), b.mean(a, [-2, -1]), b.amax(a, [-2], true), b.amin(a, [-1]), b.logsumexp(a, [-3, -1], true),
    b.softmax(a, -1), b.softmax(a, -2), b.softmax(a, -3),
    b.matmul(a, m), b.matmul(a, v), b.matmul(s, a), b.matmul(b.broadcastTo(s, ["T", 3, 3]), a),
    b.transpose(a, [2, 0, 1]), b.reshape(a, ["T", 12]), b.broadcastTo(b.slice(s, -1, 1, 2), ["T", 3, 4]), b.slice(a, -2, 1, 3),
    b.concat([a, c, p], -1), b.concat([a, c], -2),
    b.mul(a, b.constant([1, -2, 3, 0.5], [4])), b.add(a, b.full([3, 4], 0.25)), b.matmul(b.eye(3), a), b.cast(b.cast(a, "i32"), "f32"),
  ];
  let loss: Node | undefined;
  outs.forEach((o, i) => {
    const weighted = b.sum(b.mul(o, b.scalar(1 + i / 7)), o.shape.map((_, k) => k));
    loss = loss ? b.add(loss, weighted) : weighted;
  });
  outs.forEach((o, i) => b.graph.output(`o${i}`, o));
  b.graph.output("loss", loss!);
  const random = rng(42);
  const T = 5;
  const inputs = {
    a: randomTensor([T, 3, 4], random, -1.5, 1.5),
    c: randomTensor([T, 3, 4], random, -1.5, 1.5),
    m: randomTensor([4, 5], random),
    v: randomTensor([T, 4, 5], random),
    s: randomTensor([3, 3], random),
  };
  return { graph: b.graph, inputs };
}

/** The emitted statements as a JavaScript function of tf and the graph's inputs, returning the outputs. */
function compileBody(graph: Graph): { fn: (...args: unknown[]) => tf.Tensor[]; code: string } {
  const names = graph.inputs.map((i) => i.attrs["name"] as string);
  const data = new ModuleData();
  const body = emitNodes({ roots: graph.outputs.map((o) => o.node), given: new Map(graph.inputs.map((i) => [i, i.attrs["name"] as string])), data, locate: () => undefined, unspannedLabel: "test" });
  const typed = [...data.helperDeclarations(), ...data.declarations(), "const T = a.shape[0];", ...body.lines, `return [${graph.outputs.map((o) => body.names.get(o.node)).join(", ")}];`].join("\n");
  // The declarations carry TypeScript annotations: strip them as a consumer's build would.
  const code = transformSync(`function body(tf, ${names.join(", ")}) {\n${typed}\n}`, { loader: "ts" }).code;
  const fn = new Function(`${code}\nreturn body;`)() as (...args: unknown[]) => tf.Tensor[];
  return { fn, code };
}

describe("every template", () => {
  const toTf = (t: Tensor) => tf.tensor(Float32Array.from(t.data), [...t.shape], "float32");

  it("computes what the interpreter computes, with the same gradients, using only vetted kernels", async () => {
    const { graph, inputs } = everyOpGraph();
    const { fn, code } = compileBody(graph);
    for (const fnName of tfReferences(code)) expect(VETTED_FUNCTIONS.has(fnName) || TF_UTILITIES.includes(fnName), `tf.${fnName}`).toBe(true);
    const expected = interpret(graph, inputs);
    const names = graph.inputs.map((i) => i.attrs["name"] as string);
    const args = names.map((n) => toTf(inputs[n]!));
    const profile = await tf.profile(() => {
      const outs = fn(tf, ...args);
      graph.outputs.forEach((o, i) => {
        const want = expected[o.name]!;
        expect(outs[i]!.shape, o.name).toEqual(want.shape);
        const got = outs[i]!.dataSync();
        const scale = Math.max(1, ...Array.from(want.data, Math.abs));
        want.data.forEach((w, k) => expect(Math.abs(got[k]! - w), `${o.name}[${k}]`).toBeLessThan(2e-5 * scale));
      });
      const grads = tf.grads((...xs: tf.Tensor[]) => fn(tf, ...xs).at(-1) as tf.Tensor)(args);
      const reference = interpret(differentiate(graph, { of: "loss", wrt: names }), inputs);
      names.forEach((n, i) => {
        const want = reference[gradientOutputName(n)]!;
        const got = grads[i]!.dataSync();
        const scale = Math.max(1, ...Array.from(want.data, Math.abs));
        want.data.forEach((w, k) => expect(Math.abs(got[k]! - w), `d loss / d ${n}[${k}]`).toBeLessThan(1e-4 * scale));
      });
      return [...outs, ...grads];
    });
    const used = new Set(profile.kernelNames);
    const vetted = new Set([...vettedKernels(), ...PSEUDO_KERNELS]);
    expect([...used].filter((k) => !vetted.has(k)).sort()).toEqual([]);
    tf.dispose(args);
    tf.dispose(profile.result as tf.Tensor[]);
  });

  it("has matching kernels in the generated modules of the examples (forward and backward)", async () => {
    const result = checkExample();
    const scratch = scratchDir("codegen-tfjs-kernels-");
    try {
      const vetted = new Set([...vettedKernels(), ...PSEUDO_KERNELS]);
      for (const name of ["mhc", "hc", "residual", "mhc_lite", "tempered", "lazy"]) {
        const { module, text } = await loadConnection(result, instantiate(result, name), scratch.dir);
        for (const fnName of tfReferences(text)) expect(VETTED_FUNCTIONS.has(fnName) || TF_UTILITIES.includes(fnName), `${name}: tf.${fnName}`).toBe(true);
        const C = 6;
        const params = module.initParameters(C, 3);
        const x = tf.randomNormal([3, module.n, C], 0, 1, "float32", 1);
        const profile = await tf.profile(() => {
          const grads = tf.grads((...vs: tf.Tensor[]) => tf.sum(module.sublayer(params, vs[0], (u: tf.Tensor) => tf.tanh(u))["y"]!))([x]);
          const out = module.sublayer(params, x, tf.zeros([3, C]));
          return [...grads, ...Object.values(out)];
        });
        expect([...new Set(profile.kernelNames)].filter((k) => !vetted.has(k)).sort(), name).toEqual([]);
        tf.dispose([params, x, profile.result as tf.Tensor[]]);
      }
    } finally {
      scratch.remove();
    }
  });
});
