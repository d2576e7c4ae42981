import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { compileCommand } from "../../../compiler/cli/commands/compile.js";
import { generateTfjs } from "../../../compiler/codegen/tfjs/index.js";
import { memoryIO } from "../../helpers/memory-io.js";
import { checkExample, COMPILER_VERSION, ROOT, scratchDir } from "./helpers.js";

/*
 * Goldens of the generated TypeScript (`golden/*.ts.txt`: not `.ts`, so neither tsc nor
 * vitest compiles them as project sources) and of the manifest; determinism; the
 * generated modules typecheck under strict settings; `mhc compile` end to end.
 */

const GOLDEN = ["mhc", "hc", "residual", "mhc_lite", "tempered"];

async function generate() {
  return generateTfjs(checkExample(), { compilerVersion: COMPILER_VERSION, connections: GOLDEN });
}

describe("tfjs goldens", () => {
  it("match the committed modules and manifest", async () => {
    const output = await generate();
    for (const file of output.files) {
      await expect(file.text).toMatchFileSnapshot(join("golden", `${file.path}.txt`));
    }
  });

  it("match the committed model module of examples/my-constraint.mhc and the connection modules it imports", async () => {
    const output = await generateTfjs(checkExample(), { compilerVersion: COMPILER_VERSION, connections: [], models: "all" });
    const modules = output.files.filter((f) => f.path.endsWith(".ts"));
    expect(modules.map((f) => f.path).sort()).toEqual(["lazy_n4_mix0_25.ts", "my_constraint.model.ts", "tempered_n4_tau0_5.ts"]);
    for (const file of modules) await expect(file.text).toMatchFileSnapshot(join("golden", `${file.path}.txt`));
  });

  it("are deterministic: two compilations give byte-identical files", async () => {
    const [a, b] = [await generate(), await generate()];
    expect(a.files.map((f) => f.path)).toEqual(b.files.map((f) => f.path));
    a.files.forEach((f, i) => expect(f.text === b.files[i]!.text, f.path).toBe(true));
  });

  it("typecheck under strict TypeScript (noUnusedLocals, exactOptionalPropertyTypes), model modules included", async () => {
    const output = await generateTfjs(checkExample(), { compilerVersion: COMPILER_VERSION, connections: GOLDEN, models: "all" });
    const scratch = scratchDir("codegen-tfjs-typecheck-");
    try {
      const files = output.files.filter((f) => f.path.endsWith(".ts")).map((f) => {
        const path = join(scratch.dir, f.path);
        writeFileSync(path, f.text);
        return path;
      });
      const program = ts.createProgram(files, {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        noUncheckedIndexedAccess: true,
        noUnusedLocals: true,
        noUnusedParameters: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: true,
        noEmit: true,
        types: [],
      });
      const problems = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      expect(problems).toEqual([]);
    } finally {
      scratch.remove();
    }
  });

  it("put a location comment before every change of source line", async () => {
    const mhc = (await generate()).files.find((f) => f.path === "mhc.ts")!.text;
    expect(mhc).toContain("// std.mhc:64  let M = softmax_cols(L) + eps");
    expect(mhc).toContain("const softmax35 = tf.transpose(tf.softmax(tf.transpose(reshape34, [0, 2, 1])), [0, 2, 1]);");
    const tempered = (await generate()).files.find((f) => f.path === "tempered.ts")!.text;
    expect(tempered).toMatch(/\/\/ lib\/my-constraints\.mhc:\d+ /);
  });
});

describe("mhc compile --target tfjs", () => {
  it("writes a module per connection of the file and a manifest, atomically, and summarises on stderr", async () => {
    const scratch = scratchDir("codegen-tfjs-cli-");
    try {
      const io = memoryIO(ROOT);
      const code = await compileCommand("examples/my-constraint.mhc", { target: "tfjs", out: scratch.dir }, io);
      expect(code).toBe(0);
      expect(readdirSync(scratch.dir).sort()).toEqual(["lazy.ts", "manifest.json", "tempered.ts"]);
      expect(io.err()).toMatch(/^wrote tempered\.ts, lazy\.ts and manifest\.json to .* \(target tfjs, float32, mhc-lang \d+\.\d+\.\d+\)\n$/);
      const manifest = JSON.parse(readFileSync(join(scratch.dir, "manifest.json"), "utf8"));
      expect(Object.keys(manifest)).toEqual(["format", "formatVersion", "compiler", "source", "target", "dtype", "connections"]);
      expect(manifest.source).toBe("examples/my-constraint.mhc");
      expect(manifest.connections.map((c: { name: string }) => c.name)).toEqual(["tempered", "lazy"]);
      expect(manifest.connections[0].maps.res).toMatchObject({ constraint: "tempered_sinkhorn", args: { tau: 0.5, iters: 20 }, k: 16, projection: true });
      expect(manifest.connections[0].parameters[0]).toEqual({ name: "phi_pre", shape: ["4*C", 4], dtype: "float32" });
      // Again into a second directory: byte-identical.
      const again = scratchDir("codegen-tfjs-cli-");
      try {
        expect(await compileCommand("examples/my-constraint.mhc", { target: "tfjs", out: again.dir }, memoryIO(ROOT))).toBe(0);
        for (const f of readdirSync(scratch.dir)) expect(readFileSync(join(again.dir, f)).equals(readFileSync(join(scratch.dir, f))), f).toBe(true);
      } finally {
        again.remove();
      }
    } finally {
      scratch.remove();
    }
  });

  it("prints the IR before and after the pipeline with --emit ir / ir-opt", () => {
    const before = memoryIO(ROOT);
    expect(compileCommand("examples/hc-baseline.mhc", { target: "tfjs", emit: "ir" }, before)).toBe(0);
    const after = memoryIO(ROOT);
    expect(compileCommand("examples/hc-baseline.mhc", { target: "tfjs", emit: "ir-opt" }, after)).toBe(0);
    expect(before.out()).toMatch(/^\/\/ connection `\w+`: sublayer graph .* before the optimisation pipeline\n%0 = input\(\) \{name="x"\}/);
    expect(after.out()).toContain("after the optimisation pipeline");
    expect(after.out().split("\n").length).toBeLessThan(before.out().split("\n").length);
  });

  it("rejects unknown targets, --build for tfjs and a missing --out as usage errors", () => {
    const io = memoryIO(ROOT);
    expect(() => compileCommand("examples/tiny.mhc", { target: "tfjs", out: "x", build: true }, io)).toThrow(/`--build` applies to `--target cuda`/);
    expect(() => compileCommand("examples/tiny.mhc", { target: "onnx", out: "x" }, io)).toThrow(/unknown target `onnx`/);
    expect(() => compileCommand("examples/tiny.mhc", { target: "tfjs" }, io)).toThrow(/needs `--out DIR`/);
    expect(() => compileCommand("examples/tiny.mhc", { out: "x" }, io)).toThrow(/needs `--target tfjs`/);
    expect(() => compileCommand("examples/tiny.mhc", { target: "tfjs", emit: "kernels" }, io)).toThrow(/not part of this build yet/);
  });

  it("reports diagnostics and writes nothing when the file has errors", () => {
    const scratch = scratchDir("codegen-tfjs-bad-");
    try {
      const bad = join(scratch.dir, "bad.mhc");
      writeFileSync(bad, "connection k { streams 0 pre sigmoid_eps() post scaled_sigmoid() res sinkhorn() }\n");
      const io = memoryIO(ROOT);
      expect(compileCommand(bad, { target: "tfjs", out: join(scratch.dir, "out") }, io)).toBe(1);
      expect(io.err()).toMatch(/error\[MHC\d{4}\]/);
      expect(readdirSync(scratch.dir)).toEqual(["bad.mhc"]);
    } finally {
      scratch.remove();
    }
  });
});
