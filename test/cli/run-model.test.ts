import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { checkFiles } from "../../compiler/driver.js";
import { interpret } from "../../compiler/ir/interpret.js";
import { makeNdArray, type NdArray } from "../../compiler/io/ndarray.js";
import { readNpy, writeNpy } from "../../compiler/io/npy.js";
import { writeSafetensors } from "../../compiler/io/safetensors.js";
import { buildModelGraph, oneHot } from "../../compiler/lower/model-graph.js";
import { modelParameterSpecs } from "../../compiler/lower/model-parameters.js";
import { memoryIO } from "../helpers/memory-io.js";
import { randomParameters, relativeError } from "../numerics/model-harness.js";

/*
 * `mhc run FILE --model NAME`: tokens in, logits out, through the generated TensorFlow.js
 * model (cpu, wasm) or the float64 reference (`--reference`), run in-process.
 */

const FIXTURES = resolve("test/numerics/fixtures/models.mhc");
const checked = checkFiles([FIXTURES], { cwd: process.cwd() });

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "mhc-run-model-"));
}

function read(path: string): NdArray {
  const r = readNpy(path);
  if (!r.ok) throw new Error(r.diagnostic.message);
  return r.value;
}

/** Seeded weights of a fixture model as float32 safetensors; `edit` changes the tensor list first. */
function writeWeights(dir: string, model: string, edit: (t: [string, NdArray][]) => [string, NdArray][] = (t) => t): void {
  const specs = modelParameterSpecs(checked.checked.models.get(model)!);
  const params = randomParameters(specs, 17);
  const tensors = specs.map((s) => [s.name, makeNdArray("f32", [...s.shape], params[s.name]!.data)] as [string, NdArray]);
  writeSafetensors(join(dir, "w.safetensors"), edit(tensors));
}

async function run(dir: string, ...args: string[]): Promise<{ code: number; err: string; codes: string[] }> {
  const io = memoryIO(dir);
  const code = await runCli(["run", FIXTURES, ...args], io);
  const codes = args.includes("json") && io.out().length > 0 ? (JSON.parse(io.out()) as { code: string }[]).map((d) => d.code) : [];
  return { code, err: io.err(), codes };
}

const model = (name: string) => ["--model", name, "--weights", "w.safetensors"];

describe("mhc run --model", () => {
  it("runs the weights of mhc init on --text (UTF-8 bytes) with tfjs and with the float64 reference, which agree", async () => {
    const dir = scratch();
    const init = memoryIO(dir);
    expect(await runCli(["init", FIXTURES, "--model", "fx_bytes", "--out", "w.safetensors", "--seed", "3"], init), init.err()).toBe(0);
    const text = "héllo, 007";
    const tfjs = await run(dir, ...model("fx_bytes"), "--text", text, "--out", "tf.npy", "--backend", "cpu");
    expect(tfjs.code, tfjs.err).toBe(0);
    expect(tfjs.err).toMatch(/backend: cpu/);
    expect(tfjs.err).toMatch(/wrote tf\.npy: \[11, 256\] float32 logits of `fx_bytes` \(TensorFlow\.js on cpu\)/);
    const ref = await run(dir, ...model("fx_bytes"), "--text", text, "--out", "ref.npy", "--reference");
    expect(ref.code, ref.err).toBe(0);
    const [a, b] = [read(join(dir, "tf.npy")), read(join(dir, "ref.npy"))];
    expect([a.dtype, a.shape, b.dtype, b.shape]).toEqual(["f32", [11, 256], "f64", [11, 256]]);
    expect(relativeError(a.data, b.data)).toBeLessThan(1e-4);
    // Number-like text stays text: "007" is three bytes, not the number 7.
    expect((await run(dir, ...model("fx_bytes"), "--text", "007", "--out", "n.npy", "--reference")).code).toBe(0);
    expect(read(join(dir, "n.npy")).shape).toEqual([3, 256]);
  });

  it("takes int64 tokens [B, T] and int32 tokens [T]; the reference is the model IR, tfjs matches it on cpu and wasm", async () => {
    const dir = scratch();
    writeWeights(dir, "fx_hc");
    const rows = [[3, 1, 4, 1, 5, 9, 2], [6, 5, 3, 5, 8, 9, 7]];
    writeNpy(join(dir, "bt.npy"), makeNdArray("i64", [2, 7], rows.flat()));
    writeNpy(join(dir, "t.npy"), makeNdArray("i32", [7], rows[1]!));
    expect((await run(dir, ...model("fx_hc"), "--tokens", "bt.npy", "--out", "ref.npy", "--reference")).code).toBe(0);
    const ref = read(join(dir, "ref.npy"));
    expect([ref.dtype, ref.shape]).toEqual(["f64", [2, 7, 40]]);
    const m = checked.checked.models.get("fx_hc")!;
    const { graph, parameters } = buildModelGraph(checked.checked, m, { tokens: 7, batch: 2 });
    const params = randomParameters(parameters, 17);
    const direct = interpret(graph, { ...params, tokens: oneHot(rows.flat(), 40) })["logits"]!;
    expect(relativeError(ref.data, direct.data)).toBe(0);
    for (const backend of ["cpu", "wasm"]) {
      const out = await run(dir, ...model("fx_hc"), "--tokens", "bt.npy", "--out", `${backend}.npy`, "--backend", backend);
      expect(out.code, out.err).toBe(0);
      expect(out.err).toContain(`backend: ${backend}`);
      const logits = read(join(dir, `${backend}.npy`));
      expect([logits.dtype, logits.shape]).toEqual(["f32", [2, 7, 40]]);
      expect(relativeError(logits.data, ref.data), backend).toBeLessThan(1e-4);
    }
    expect((await run(dir, ...model("fx_hc"), "--tokens", "t.npy", "--out", "one.npy", "--backend", "cpu")).code).toBe(0);
    const one = read(join(dir, "one.npy"));
    expect(one.shape).toEqual([7, 40]);
    expect(relativeError(one.data, ref.data.subarray(7 * 40))).toBeLessThan(1e-4);
  }, 30_000);

  it("checks the weights against the model's parameters: missing, extra, mis-shaped and non-finite tensors", async () => {
    const dir = scratch();
    writeNpy(join(dir, "t.npy"), makeNdArray("i64", [3], [1, 2, 3]));
    const attempt = async (edit: (t: [string, NdArray][]) => [string, NdArray][]) => {
      writeWeights(dir, "fx_hc", edit);
      return (await run(dir, ...model("fx_hc"), "--tokens", "t.npy", "--out", "y.npy", "--reference", "--format", "json")).codes;
    };
    expect(await attempt((t) => t.filter(([n]) => n !== "layers.0.1.mlp.w_out"))).toEqual(["MHC6009"]);
    expect(await attempt((t) => [...t, ["lm_head.bias", makeNdArray("f32", [40])]])).toEqual(["MHC6010"]);
    expect(await attempt((t) => t.map(([n, a]) => (n === "layers.0.0.attn.wq" ? [n, makeNdArray("f32", [96, 95])] : [n, a])))).toEqual(["MHC6011"]);
    expect(await attempt((t) => t.map(([n, a]) => (n === "final_norm.weight" ? [n, makeNdArray("f32", [96], [NaN, ...new Array<number>(95).fill(1)])] : [n, a])))).toEqual(["MHC6007"]);
    // Weights of another model (tied head, learned expand, swiglu, n = 3): every difference is reported.
    writeWeights(dir, "fx_mhc_n3");
    const other = await run(dir, ...model("fx_hc"), "--tokens", "t.npy", "--out", "y.npy", "--reference", "--format", "json");
    expect(other.code).toBe(1);
    expect(new Set(other.codes)).toEqual(new Set(["MHC6009", "MHC6010", "MHC6011"]));
    expect(existsSync(join(dir, "y.npy"))).toBe(false);
  });

  it("reports tokens outside the vocabulary, longer than the context or not integers, and leaves the output alone", async () => {
    const dir = scratch();
    writeWeights(dir, "fx_hc");
    writeFileSync(join(dir, "y.npy"), "previous");
    writeNpy(join(dir, "big.npy"), makeNdArray("i64", [2, 3], [1, 2, 3, 4, 40, 5]));
    writeNpy(join(dir, "neg.npy"), makeNdArray("i8", [2], [0, -1]));
    writeNpy(join(dir, "long.npy"), makeNdArray("i32", [9], [1, 2, 3, 4, 5, 6, 7, 8, 9]));
    writeNpy(join(dir, "float.npy"), makeNdArray("f32", [3], [1, 2, 3]));
    writeNpy(join(dir, "cube.npy"), makeNdArray("i32", [1, 1, 3], [1, 2, 3]));
    const codes = async (...args: string[]) => (await run(dir, ...model("fx_hc"), ...args, "--out", "y.npy", "--format", "json")).codes;
    expect(await codes("--tokens", "big.npy")).toEqual(["MHC6017"]);
    expect(await codes("--tokens", "neg.npy", "--reference")).toEqual(["MHC6017"]);
    expect(await codes("--text", "hi")).toEqual(["MHC6017"]); // bytes 104, 105 against vocab 40
    expect(await codes("--tokens", "long.npy")).toEqual(["MHC6018"]);
    expect(await codes("--tokens", "float.npy")).toEqual(["MHC6019"]);
    expect(await codes("--tokens", "cube.npy")).toEqual(["MHC6008"]);
    expect(await codes("--tokens", "missing.npy")).toEqual(["MHC6001"]);
    const human = await run(dir, ...model("fx_hc"), "--tokens", "big.npy", "--out", "y.npy");
    expect(human.err).toContain("error[MHC6017]: token 40 at [1, 1] of `big.npy` is outside the vocabulary of `fx_hc` (0 to 39)");
    expect((await run(dir, "--model", "fx_hcc", "--weights", "w.safetensors", "--tokens", "big.npy", "--out", "y.npy", "--format", "json")).codes).toEqual(["MHC6014"]);
    expect(readFileSync(join(dir, "y.npy"), "utf8")).toBe("previous");
  });

  it("rejects flag combinations that do not make sense with exit code 2", async () => {
    const dir = scratch();
    const usage = async (...args: string[]) => (await run(dir, ...args)).code;
    expect(await usage(...model("fx_hc"), "--out", "y.npy")).toBe(2); // no tokens
    expect(await usage(...model("fx_hc"), "--tokens", "t.npy", "--text", "hi", "--out", "y.npy")).toBe(2);
    expect(await usage(...model("fx_hc"), "--tokens", "t.npy")).toBe(2); // no --out
    expect(await usage(...model("fx_hc"), "--tokens", "t.npy", "--out", "y.npy", "--connection", "mhc")).toBe(2);
    expect(await usage(...model("fx_hc"), "--tokens", "t.npy", "--out", "y.npy", "--reference", "--backend", "cpu")).toBe(2);
    expect(await usage(...model("fx_hc"), "--tokens", "t.npy", "--out", "y.npy", "--backend", "webgl")).toBe(2);
    expect(await usage("--connection", "mhc", "--tokens", "t.npy", "--weights", "w.safetensors", "--out", "y.npy")).toBe(2);
  });

  it("is described by mhc run --help", () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "info").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
    try {
      expect(runCli(["run", "--help"], memoryIO())).toBe(0);
    } finally {
      spy.mockRestore();
      log.mockRestore();
    }
    const help = lines.join("\n");
    for (const flag of ["--model <name>", "--tokens <path>", "--text <text>", "--reference", "--backend <name>"]) expect(help).toContain(flag);
  });
});
