import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateCuda } from "../../../compiler/codegen/cuda/index.js";
import { pascalCase, torchBindingSource } from "../../../compiler/codegen/cuda/torch-binding.js";
import { abiCallLines } from "../../../compiler/codegen/cuda/backward/abi-call.js";
import { CudaCodegenError } from "../../../compiler/codegen/cuda/emit-constraint.js";
import { check, golden } from "./helpers.js";

const tiny = check("examples/tiny.mhc");


const python = ((): string | undefined => {
  const r = spawnSync("python3", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? "python3" : undefined;
})();

function pyCompile(text: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "mhc-torch-"));
  try {
    const file = join(dir, "binding_torch.py");
    writeFileSync(file, text);
    const r = spawnSync(python!, ["-m", "py_compile", file], { encoding: "utf8" });
    return { status: r.status, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("cuda target: PyTorch binding", () => {
  const mhc = generateCuda(tiny, "mhc", { compilerVersion: "test" });
  const text = torchBindingSource(mhc.manifest);

  it("prelude mhc at n = 4 matches its golden", () => {
    expect(mhc.manifest.connection["n"]).toBe(4);
    golden("mhc_torch.py.golden", text);
  });

  it("is deterministic", () => {
    const again = torchBindingSource(generateCuda(tiny, "mhc", { compilerVersion: "test" }).manifest);
    expect(again).toBe(text);
  });

  it("is printed from the ABI: every entry point and argument in order, every parameter", () => {
    for (const ep of [...mhc.manifest.entryPoints, ...mhc.manifest.backward!.entryPoints] as { name: string; args: { name: string }[] }[]) {
      const start = text.indexOf(`(${JSON.stringify(ep.name)}, (`);
      expect(start, ep.name).toBeGreaterThan(0);
      let at = start;
      for (const a of ep.args) {
        const i = text.indexOf(`(${JSON.stringify(a.name)}, ctypes.`, at);
        expect(i, `${ep.name}.${a.name}`).toBeGreaterThan(at);
        at = i;
      }
    }
    for (const p of mhc.manifest.parameters) expect(text).toContain(`self.${p.name} = torch.nn.Parameter(`);
    expect(text).toContain("class Mhc(torch.nn.Module):");
    expect(text).toContain("    def backward(ctx, du, dh_pre, dh_post, dh_res):");
    expect(text).toContain('"pre_backward",');
    expect(text).toContain("def recompute_block(modules, fns, x, segment=None, fuse=True):");
    expect(text).toContain("    count = math.isqrt(layers - 1) + 1  # ceil(sqrt(L))");
    expect(text).toContain("    starts = _segment_starts(len(modules), segment)");
    // each residual walked forward from its segment's first one, not a segment's residuals held at once
    expect(text).toContain("                for k in range(start, l):\n                    xl, c = run.step(k, xl, c)");
    expect(text).not.toContain("xs.append(");
    expect(text).toContain("STATS_WIDTH = 25");
    expect(text).toContain('"phi_res": (4 * C, 16),');
    expect(text).toContain("torch.full(shapes[\"alpha\"], 0.01, **f32)");
    // bias_res: the prelude init (eye(n) - 1) * 8
    expect(text).toContain("torch.tensor([0.0, -8.0, -8.0, -8.0, -8.0, 0.0,");
  });

  it("passes each call's arguments by position, in the ABI's order", () => {
    const entries = [...mhc.manifest.entryPoints, ...mhc.manifest.backward!.entryPoints] as { name: string; args: { name: string }[] }[];
    const short = (name: string): string => name.replace("mhc_mhc_", "");
    let calls = 0;
    for (const m of text.matchAll(/lib\.call\(\n\s+"(\w+)",\n((?:\s+.*,  # \w+\n)+)\s+\)/g)) {
      const ep = entries.find((e) => short(e.name) === m[1]);
      expect(ep, m[1]).toBeDefined();
      const names = [...m[2]!.matchAll(/  # (\w+)\n/g)].map((a) => a[1]);
      expect(names, m[1]).toEqual(ep!.args.map((a) => a.name));
      calls++;
    }
    // pre, save_stats, post, post_pre, post_backward, pre_backward
    expect(calls).toBe(6);
    expect(text).not.toMatch(/lib\.call\("\w+", \w+=/);
  });

  it("at inference under torch.compile, pre and post are operators dynamo traces; with gradients they stay eager", () => {
    expect(text).toContain('@torch.library.custom_op("mhc_mhc::pre", mutates_args=())');
    expect(text).toContain('@torch.library.custom_op("mhc_mhc::post", mutates_args=())');
    // the operator takes x, every parameter in order, then the library's index
    expect(text).toContain(`    def pre(x: torch.Tensor, ${mhc.manifest.parameters.map((p) => `${p.name}: torch.Tensor, `).join("")}library: int) -> tuple[`);
    expect(text).toMatch(/def pre\(self, x\):\n(?:.*\n){1}\s+if _traced\(\):/);
    expect(text).toMatch(/def post\(self, x, f, state\):\n(?:.*\n){1}\s+if _traced\(\):/);
    expect(text).toMatch(/@_eager\n    def _pre\(self, x\):/);
    expect(text).toMatch(/@_eager\n    def _post\(self, x, f, state\):/);
    expect(text).toContain("    return _OPS is not None and torch.compiler.is_compiling() and not torch.is_grad_enabled()");
  });

  it("refuses a call whose arguments differ from the ABI's", () => {
    const args = new Map([["post", ["x", "f", "y"]]]);
    expect(abiCallLines(args, "post", ["x=a", "f=b", "y=c"], "")).toEqual(['lib.call(', '    "post",', "    a,  # x", "    b,  # f", "    c,  # y", ")"]);
    expect(() => abiCallLines(args, "post", ["f=b", "x=a", "y=c"], "")).toThrow(CudaCodegenError);
    expect(() => abiCallLines(args, "post", ["x=a", "f=b"], "")).toThrow(CudaCodegenError);
    expect(() => abiCallLines(args, "pre", ["x=a"], "")).toThrow(CudaCodegenError);
  });

  it("follows the connection: no phi for a static connection, the symbol names the library", () => {
    const residual = torchBindingSource(generateCuda(tiny, "residual", { compilerVersion: "test", name: "res_x" }).manifest);
    expect(residual).not.toContain("phi_");
    expect(residual).toContain('LIBRARY = "libres_x.so"');
    expect(residual).toContain("class ResX(torch.nn.Module):");
    expect(residual).toContain('"mhc_res_x_pre"');
    expect(torchBindingSource(mhc.manifest, { className: "MyConn" })).toContain("class MyConn(torch.nn.Module):");
    expect(pascalCase("mhc_n4")).toBe("MhcN4");
    expect(pascalCase("_4x")).toBe("Mhc4x");
  });

  it.skipIf(!python)("compiles with python3 -m py_compile", () => {
    for (const src of [text, torchBindingSource(generateCuda(tiny, "residual", { compilerVersion: "test" }).manifest)]) {
      const r = pyCompile(src);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    }
  });
});
