import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateCuda, instantiateConnection } from "../../compiler/codegen/cuda/index.js";
import { findNvcc, requireNvccInCi } from "../helpers/nvcc.js";
import { check, root } from "../codegen/cuda/helpers.js";

/*
 * scripts/gpu/probe_patch.py finds its probe points by exact text in the generated kernels and the
 * runtime headers: these tests keep it in step with them (it runs only on the GPU machine otherwise).
 */

const work = mkdtempSync(join(tmpdir(), "mhc-probe-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SLOTS = 20;

function generatedTree(): string {
  const src = join(work, "gen");
  mkdirSync(join(src, "mhc_n4"), { recursive: true });
  cpSync(join(root, "runtime", "cuda"), join(src, "runtime"), { recursive: true });
  const tiny = check("examples/tiny.mhc");
  const out = generateCuda(tiny, instantiateConnection(tiny, "mhc", { n: 4 }), { name: "mhc_n4", compilerVersion: "test" });
  for (const [path, text] of out.files) writeFileSync(join(src, "mhc_n4", path), text);
  writeFileSync(join(src, "variants.json"), JSON.stringify([{ symbol: "mhc_n4", n: 4 }, { symbol: "other", n: 8 }]));
  return src;
}

describe("scripts/gpu/probe_patch.py", () => {
  const src = generatedTree();
  const dst = join(work, "probed");
  const run = spawnSync("python3", [join(root, "scripts", "gpu", "probe_patch.py"), src, dst, "mhc_n4"], { encoding: "utf8" });

  it("instruments a copy of a freshly generated variant: every probe slot once in the kernels, the host readers appended", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const cu = readFileSync(join(dst, "mhc_n4", "mhc_n4.cu"), "utf8");
    const inc = (f: string): string => readFileSync(join(dst, "runtime", "include", f), "utf8");
    const text = cu + inc("mhc_mma.cuh") + inc("mhc_mix.cuh") + inc("mhc_reduce.cuh");
    // The split-K sums' two probes sit in both of sum_split_partials' paths (one group of threads, or several).
    for (let slot = 0; slot < SLOTS; ++slot) expect(text.match(new RegExp(`mhc::probe\\(${slot}\\);`, "g"))?.length, `slot ${slot}`).toBe(slot === 15 || slot === 16 ? 2 : 1);
    expect(cu).toContain('extern "C" int mhc_probe_read(unsigned long long* out)');
    expect(inc("mhc_common.cuh")).toContain("__device__ unsigned long long probe_t[64];");
    // The source tree is left as it was; the copy lists the one variant.
    expect(readFileSync(join(src, "mhc_n4", "mhc_n4.cu"), "utf8")).not.toContain("mhc::probe(");
    expect(JSON.parse(readFileSync(join(dst, "variants.json"), "utf8"))).toEqual([{ symbol: "mhc_n4", n: 4 }]);
  });

  const nvcc = findNvcc();
  requireNvccInCi(nvcc);
  it.runIf(nvcc !== undefined)("the instrumented source compiles (PTX, with the patched runtime headers)", () => {
    const inc = join(dst, "runtime");
    const ptx = spawnSync(nvcc as string, ["-arch=sm_90a", "-std=c++17", "-DMHC_NO_BACKWARD", `-I${inc}`, `-I${join(inc, "include")}`, join(dst, "mhc_n4", "mhc_n4.cu"), "--ptx", "-o", join(work, "probed.ptx")], { encoding: "utf8" });
    expect(ptx.stderr.split("\n").filter((l) => /error/i.test(l))).toEqual([]);
    expect(ptx.status).toBe(0);
  }, 120_000);
});

describe("scripts/gpu/timeline_svg.py", () => {
  it("draws the committed decode timeline: one panel per tree, a bar per phase, the time axis", () => {
    const results = join(root, "bench", "results", "cuda-decode-params-h100-2026-11-26.json");
    const svg = join(work, "timeline.svg");
    const run = spawnSync("python3", [join(root, "scripts", "gpu", "timeline_svg.py"), "--out", svg, `${results}#base`, `${results}#new`], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<svg ")).toBe(true);
    expect(text.match(/<rect x=/g)?.length).toBe(2 * 9);
    expect(text).toContain(">res constraint (Sinkhorn)</text>");
    expect(text).toContain("microseconds after the prenorm GEMM");
    const bad = spawnSync("python3", [join(root, "scripts", "gpu", "timeline_svg.py"), "--out", svg, `${results}#nosuchtree`], { encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("has no tree 'nosuchtree' (it has: base, new)");
  });
});
