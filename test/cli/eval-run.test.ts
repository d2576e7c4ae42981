import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { makeNdArray, type NdArray } from "../../compiler/io/ndarray.js";
import { readNpy, writeNpy } from "../../compiler/io/npy.js";
import { writeSafetensors } from "../../compiler/io/safetensors.js";
import { mhcSublayer, sinkhorn, type Matrix } from "../helpers/reference-mhc.js";
import { memoryIO } from "../helpers/memory-io.js";
import { rng } from "../passes/grad-check.js";

const example = resolve("examples/tiny.mhc");

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "mhc-eval-"));
}

function randomArray(shape: number[], seed: number, scale = 1): NdArray {
  const random = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return makeNdArray("f64", shape, Array.from({ length: size }, () => (random() * 2 - 1) * scale));
}

function read(path: string): NdArray {
  const r = readNpy(path);
  if (!r.ok) throw new Error(r.diagnostic.message);
  return r.value;
}

const jsonCodes = (out: string) => (JSON.parse(out) as { code: string }[]).map((d) => d.code);

describe("mhc eval", () => {
  it("runs sinkhorn on a batch with leading dimensions and matches the reference to 1e-12", () => {
    const dir = scratch();
    const logits = randomArray([2, 3, 4, 4], 1, 4);
    writeNpy(join(dir, "L.npy"), logits);
    const io = memoryIO(dir);
    expect(runCli(["eval", example, "--constraint", "sinkhorn", "--logits", "L.npy", "--out", "H.npy", "--set", "iters=7"], io)).toBe(0);
    const H = read(join(dir, "H.npy"));
    expect(H.shape).toEqual([2, 3, 4, 4]);
    expect(H.dtype).toBe("f64");
    for (let b = 0; b < 6; b++) {
      const L: Matrix = Array.from({ length: 4 }, (_, i) => Array.from(logits.data.slice(b * 16 + i * 4, b * 16 + i * 4 + 4)));
      const expected = sinkhorn(L, 7).flat();
      expected.forEach((v, i) => expect(Math.abs(H.data[b * 16 + i]! - v)).toBeLessThan(1e-12));
    }
    expect(io.err()).toMatch(/wrote H\.npy: \[2, 3, 4, 4\] float64/);
  });

  it("infers n from a constraint's own logits shape (birkhoff_lite: n! logits)", () => {
    const dir = scratch();
    writeNpy(join(dir, "w.npy"), randomArray([5, 6], 2));
    expect(runCli(["eval", example, "--constraint", "birkhoff_lite", "--logits", "w.npy", "--out", "H.npy", "--dtype", "float32"], memoryIO(dir))).toBe(0);
    const H = read(join(dir, "H.npy"));
    expect([H.shape, H.dtype]).toEqual([[5, 3, 3], "f32"]);
  });

  it("reports bad inputs with coded errors", () => {
    const dir = scratch();
    writeNpy(join(dir, "L.npy"), randomArray([2, 4, 4], 3));
    writeNpy(join(dir, "bad.npy"), makeNdArray("f64", [1, 2, 2], [0, NaN, 1, 2]));
    writeNpy(join(dir, "odd.npy"), randomArray([2, 5], 3));
    writeFileSync(join(dir, "junk.npy"), "not an array");
    const run = (...args: string[]) => {
      const io = memoryIO(dir);
      const code = runCli(["eval", example, ...args, "--format", "json"], io);
      return [code, jsonCodes(io.out())];
    };
    expect(run("--constraint", "sinkhron", "--logits", "L.npy", "--out", "H.npy")).toEqual([1, ["MHC2002"]]);
    expect(run("--constraint", "sinkhorn", "--logits", "bad.npy", "--out", "H.npy")).toEqual([1, ["MHC6007"]]);
    expect(run("--constraint", "sinkhorn", "--logits", "junk.npy", "--out", "H.npy")).toEqual([1, ["MHC6002"]]);
    expect(run("--constraint", "sinkhorn", "--logits", "missing.npy", "--out", "H.npy")).toEqual([1, ["MHC6001"]]);
    expect(run("--constraint", "birkhoff_lite", "--logits", "odd.npy", "--out", "H.npy")).toEqual([1, ["MHC6008"]]);
    expect(run("--constraint", "sinkhorn", "--logits", "L.npy", "--out", "H.npy", "--set", "iter=3")).toEqual([1, ["MHC6014"]]);
    expect(run("--constraint", "sinkhorn", "--logits", "L.npy", "--out", "H.npy", "--set", "iters=2.5")).toEqual([1, ["MHC6014"]]);
    expect(run("--constraint", "sinkhorn", "--logits", "L.npy", "--out", "H.npy", "--set", "iters=0")).toEqual([1, ["MHC3007"]]);
    const usage = memoryIO(dir);
    expect(runCli(["eval", example, "--constraint", "sinkhorn", "--logits", "L.npy"], usage)).toBe(2);
  });

  it("keeps extreme logits finite", () => {
    const dir = scratch();
    writeNpy(join(dir, "L.npy"), randomArray([8, 4, 4], 4, 1e4));
    expect(runCli(["eval", example, "--constraint", "sinkhorn", "--logits", "L.npy", "--out", "H.npy"], memoryIO(dir))).toBe(0);
    expect(read(join(dir, "H.npy")).data.every(Number.isFinite)).toBe(true);
  });
});

describe("mhc run", () => {
  const T = 3;
  const write = (dir: string, n: number, C: number, overrides: Record<string, NdArray | undefined> = {}) => {
    const x = randomArray([T, n, C], 10 + n + C, 2);
    const tensors: Record<string, NdArray | undefined> = {
      phi_pre: randomArray([n * C, n], 11, 0.5),
      phi_post: randomArray([n * C, n], 12, 0.5),
      phi_res: randomArray([n * C, n * n], 13, 0.5),
      alpha: makeNdArray("f32", [3], [0.25, 0.5, 0.75]),
      bias_pre: randomArray([n], 14),
      bias_post: randomArray([n], 15),
      bias_res: randomArray([n * n], 16),
      ...overrides,
    };
    writeNpy(join(dir, "X.npy"), x);
    writeSafetensors(join(dir, "W.safetensors"), Object.entries(tensors).filter((e): e is [string, NdArray] => e[1] !== undefined));
    return { x, tensors };
  };

  for (const [n, C] of [[1, 1], [3, 7], [4, 96], [8, 7]] as const) {
    it(`matches the reference sublayer (n = ${n}, C = ${C}) and writes the coefficients`, () => {
      const dir = scratch();
      const { x, tensors } = write(dir, n, C);
      const io = memoryIO(dir);
      expect(runCli(["run", example, "--connection", "mhc", "--input", "X.npy", "--weights", "W.safetensors", "--out", "Y.npy", "--coefficients", "coef"], io), io.err()).toBe(0);
      const m = (a: NdArray, cols: number): Matrix => Array.from({ length: a.shape[0]! }, (_, i) => Array.from(a.data.slice(i * cols, (i + 1) * cols)));
      const x3 = Array.from({ length: T }, (_, t) => Array.from({ length: n }, (_, i) => Array.from(x.data.slice((t * n + i) * C, (t * n + i + 1) * C))));
      const ref = mhcSublayer(x3, {
        phi_pre: m(tensors["phi_pre"]!, n),
        phi_post: m(tensors["phi_post"]!, n),
        phi_res: m(tensors["phi_res"]!, n * n),
        alpha: [0.25, 0.5, 0.75],
        bias_pre: Array.from(tensors["bias_pre"]!.data),
        bias_post: Array.from(tensors["bias_post"]!.data),
        bias_res: Array.from(tensors["bias_res"]!.data),
      });
      const y = read(join(dir, "Y.npy"));
      expect(y.shape).toEqual([T, n, C]);
      ref.y.flat(2).forEach((v, i) => expect(Math.abs(y.data[i]! - v)).toBeLessThan(1e-12 * Math.max(1, Math.abs(v))));
      const res = read(join(dir, "coef", "res.npy"));
      expect(res.shape).toEqual([T, n, n]);
      ref.H_res.flat(2).forEach((v, i) => expect(Math.abs(res.data[i]! - v)).toBeLessThan(1e-12));
      expect(read(join(dir, "coef", "pre.npy")).shape).toEqual([T, n]);
      expect(read(join(dir, "coef", "post.npy")).shape).toEqual([T, n]);
    });
  }

  it("reports missing, extra and mis-shaped weights together", () => {
    const dir = scratch();
    write(dir, 4, 5, { bias_res: undefined, phi_pre: randomArray([4 * 5, 3], 1), extra: randomArray([2], 2) });
    const io = memoryIO(dir);
    expect(runCli(["run", example, "--connection", "mhc", "--input", "X.npy", "--weights", "W.safetensors", "--out", "Y.npy", "--format", "json"], io)).toBe(1);
    expect(jsonCodes(io.out()).sort()).toEqual(["MHC6009", "MHC6010", "MHC6011"]);
  });

  it("takes the stream count from the input for a connection with a parameter `n`", () => {
    const dir = scratch();
    write(dir, 3, 4);
    expect(runCli(["run", example, "--connection", "mhc", "--input", "X.npy", "--weights", "W.safetensors", "--out", "Y.npy"], memoryIO(dir))).toBe(0);
    const io = memoryIO(dir);
    expect(runCli(["run", example, "--connection", "mhc", "--input", "X.npy", "--weights", "W.safetensors", "--out", "Y.npy", "--set", "n=4", "--format", "json"], io)).toBe(1);
    expect(jsonCodes(io.out())).toEqual(["MHC6008"]);
  });
});

const numpy = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" }).status === 0;

describe.skipIf(!numpy)("against numpy (python3 with numpy is installed here)", () => {
  it("mhc eval sinkhorn matches a plain numpy implementation of design.md §1 to 1e-12", () => {
    const dir = scratch();
    const script = `
import numpy as np
rng = np.random.default_rng(0)
L = rng.normal(size=(64, 6, 6)) * 5
np.save("L.npy", L)
`;
    expect(spawnSync("python3", ["-c", script], { cwd: dir }).status).toBe(0);
    expect(runCli(["eval", example, "--constraint", "sinkhorn", "--logits", "L.npy", "--out", "H.npy"], memoryIO(dir))).toBe(0);
    const check = `
import numpy as np
L = np.load("L.npy"); H = np.load("H.npy")
M = np.exp(L - L.max(axis=-2, keepdims=True)); M = M / M.sum(axis=-2, keepdims=True) + 1e-6
M = M / (M.sum(-1, keepdims=True) + 1e-6)
for _ in range(19):
    M = M / (M.sum(-2, keepdims=True) + 1e-6); M = M / (M.sum(-1, keepdims=True) + 1e-6)
print(float(np.abs(M - H).max()))
`;
    const out = spawnSync("python3", ["-c", check], { cwd: dir, encoding: "utf8" });
    expect(out.status, out.stderr).toBe(0);
    expect(Number(out.stdout.trim())).toBeLessThan(1e-12);
  });
});
