import { describe, expect, it } from "vitest";
import { generateCuda } from "../../compiler/codegen/cuda/index.js";
import { checkFiles } from "../../compiler/driver.js";
import { inputSpecs, parameterValues } from "../../compiler/cli/commands/native/inputs.js";
import { Rng } from "../../compiler/lab/sampling.js";
import { NativeError } from "../../runtime/native/errors.js";
import { concreteShape, findEntryPoint, parseManifest } from "../../runtime/native/manifest.js";

const checked = checkFiles(["examples/deepseek-v4-flash.mhc"], { cwd: process.cwd() });
const generated = generateCuda(checked, "deepseek_v4");
const json = JSON.parse(generated.files.get("manifest.json") as string) as Record<string, unknown>;

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof NativeError) return error.def.code;
    throw error;
  }
  return undefined;
}

describe("reading the CUDA target's manifest.json", () => {
  const manifest = parseManifest(json, "manifest.json");

  it("reads the entry points with their arguments in C order", () => {
    expect(manifest.symbol).toBe("deepseek_v4");
    expect(manifest.n).toBe(4);
    expect(manifest.library).toBe("libdeepseek_v4.so");
    expect(manifest.args).toEqual({ n: 4 });
    const pre = findEntryPoint(manifest, "pre");
    expect(pre?.args.map((a) => a.name)).toEqual(["x", "dtype", "T", "C", "phi_pre", "phi_post", "phi_res", "alpha", "bias_pre", "bias_post", "bias_res", "h_pre", "h_post", "h_res", "u", "workspace", "workspace_bytes", "stream"]);
    expect(findEntryPoint(manifest, "post")?.args.map((a) => `${a.name}:${a.role}`)).toEqual(["x:input", "f:input", "dtype:scalar", "T:scalar", "C:scalar", "h_post:input", "h_res:input", "y:output", "stream:stream"]);
    expect(findEntryPoint(manifest, "backward_of_nothing")).toBeUndefined();
  });

  it("reads parameters, initial biases, status codes and dtypes", () => {
    expect(manifest.parameters.map((p) => `${p.name}[${p.shape.join(",")}]`)).toEqual(["phi_pre[4*C,4]", "phi_post[4*C,4]", "phi_res[4*C,16]", "alpha[3]", "bias_pre[4]", "bias_post[4]", "bias_res[16]"]);
    expect(manifest.initialBias["res"]?.slice(0, 5)).toEqual([0, -8, -8, -8, -8]);
    expect(manifest.statusCodes.get(6)).toBe("MHC_ERR_CUDA");
    expect(manifest.dtypes).toEqual({ f32: 0, bf16: 1 });
  });

  it("makes concrete shapes from T and C", () => {
    expect(concreteShape(["T", 4, "C"], 7, 100)).toEqual([7, 4, 100]);
    expect(concreteShape(["4*C", 16], 7, 100)).toEqual([400, 16]);
  });

  it("draws phi with the variance of one over the values a logit sums over: n C flat, C per stream", () => {
    const hc = checkFiles(["examples/hc-baseline.mhc"], { cwd: process.cwd() });
    const perStream = parseManifest(JSON.parse(generateCuda(hc, "hc").files.get("manifest.json") as string), "hc/manifest.json");
    const flat = parseManifest(json, "deepseek/manifest.json");
    const C = 64;
    const variance = (v: Float64Array) => v.reduce((a, b) => a + b * b, 0) / v.length;
    const flatPhi = parameterValues(flat, "phi_res", 20000, C, new Rng(1));
    const streamPhi = parameterValues(perStream, "phi_res", 20000, C, new Rng(1));
    expect(variance(flatPhi) * flat.n * C).toBeCloseTo(1, 1);
    expect(variance(streamPhi) * C).toBeCloseTo(1, 1);
  });

  it("asks the caller for x, f and the parameters, not for what pre writes and post reads", () => {
    const specs = inputSpecs(manifest, [findEntryPoint(manifest, "pre")!, findEntryPoint(manifest, "post")!], 7, 100, "bf16");
    expect(specs.map((s) => `${s.name}:${s.elementType}:${s.shape.join("x")}${s.parameter ? ":parameter" : ""}`)).toEqual([
      "x:bf16:7x4x100",
      "phi_pre:f32:400x4:parameter",
      "phi_post:f32:400x4:parameter",
      "phi_res:f32:400x16:parameter",
      "alpha:f32:3:parameter",
      "bias_pre:f32:4:parameter",
      "bias_post:f32:4:parameter",
      "bias_res:f32:16:parameter",
      "f:bf16:7x100",
    ]);
  });

  it.each([
    ["another format", { ...json, format: "mhc-tfjs" }],
    ["a newer ABI", { ...json, abiVersion: 2 }],
    ["no entry points", { ...json, entryPoints: undefined }],
    ["an unknown role", { ...json, entryPoints: [{ name: "mhc_x_pre", args: [{ name: "x", ctype: "void*", role: "mystery" }] }] }],
    ["a malformed shape", { ...json, parameters: [{ name: "phi_pre", shape: ["4*C+1", 4] }] }],
    ["no stream count", { ...json, connection: { symbol: "deepseek_v4" } }],
    ["not an object", [1, 2]],
  ])("rejects a manifest with %s (MHC6036)", (_, bad) => {
    expect(codeOf(() => parseManifest(bad, "bad/manifest.json"))).toBe("MHC6036");
  });
});
