import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { labCommand } from "../../compiler/cli/commands/lab.js";
import { UsageError } from "../../compiler/cli/io.js";
import { parseReportJson } from "../../compiler/lab/report.js";
import { memoryIO } from "../helpers/memory-io.js";

const scratch = () => mkdtempSync(join(tmpdir(), "mhc-lab-"));
const example = resolve("examples/orthostochastic.mhc");
const small = { n: 3, depth: 8, samples: 8, scales: "1,100" };

/** Minimal XML well-formedness: one root, every tag closed in order, attributes quoted. */
function expectWellFormedSvg(svg: string): void {
  expect(svg.startsWith("<svg")).toBe(true);
  const stack: string[] = [];
  const tags = svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g);
  let consumed = 0;
  for (const m of tags) {
    consumed += m[0].length;
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]!);
  }
  expect(stack).toEqual([]);
  // Everything between tags is text without stray `<`.
  expect(svg.replace(/<[^>]*>/g, "")).not.toContain("<");
  expect(consumed).toBeGreaterThan(0);
}

/** The line paths of the data marks (not axes, rules or legend symbols). */
function linePaths(svg: string): string[] {
  const paths: string[] = [];
  for (const g of svg.matchAll(/<g class="mark-line role-mark[^"]*"[^>]*>(.*?)<\/g>/g)) paths.push(...(g[1]!.match(/<path [^>]*\/>/g) ?? []));
  return paths;
}

describe("mhc lab (command)", () => {
  it("writes report.json and the plots, prints the table, and is quiet on stderr in a pipe", async () => {
    const dir = scratch();
    const io = memoryIO();
    const code = await labCommand([example], { constraint: "sinkhorn,unconstrained,orthostochastic", ...small, out: dir }, io);
    expect(code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["gain.svg", "gradients.svg", "iterations.svg", "report.json", "spectral.svg"]);
    expect(io.out()).toContain("scale 100");
    expect(io.out()).toContain("paper (27B model, 60 sublayers)");
    // No progress line (not a TTY): only the closing "wrote ..." line.
    expect(io.err()).toMatch(/^wrote .*report\.json, .*gain\.svg, .*iterations\.svg, .*spectral\.svg, .*gradients\.svg \([\d.]+ s\)\n$/);

    const report = parseReportJson(readFileSync(join(dir, "report.json"), "utf8"));
    expect(report.constraints.map((c) => c.name)).toEqual(["sinkhorn", "unconstrained", "orthostochastic"]);
    expect(report.settings).toMatchObject({ n: 3, depth: 8, samples: 8, chains: 8, scales: [1, 100] });

    for (const name of ["gain.svg", "iterations.svg", "spectral.svg", "gradients.svg"]) expectWellFormedSvg(readFileSync(join(dir, name), "utf8"));
    const gain = readFileSync(join(dir, "gain.svg"), "utf8");
    expect(linePaths(gain)).toHaveLength(3);
    expect(gain).toContain("HC (paper) ~ 3000");
    expect(gain).toContain("mHC (paper) ~ 1.6");
    // Two swept constraints, column and row error each.
    expect(linePaths(readFileSync(join(dir, "iterations.svg"), "utf8"))).toHaveLength(4);
    expect(readdirSync(dir).some((f) => f.endsWith(".tmp"))).toBe(false);
  });

  it("writes the same report.json and plots twice for one seed", async () => {
    const [a, b] = [scratch(), scratch()];
    for (const out of [a, b]) expect(await labCommand([example], { constraint: "sinkhorn", ...small, out }, memoryIO())).toBe(0);
    for (const f of ["report.json", "gain.svg", "iterations.svg"]) expect(readFileSync(join(a, f), "utf8")).toBe(readFileSync(join(b, f), "utf8"));
  });

  it("shows a progress line on a terminal and erases it", async () => {
    const io = memoryIO();
    let err = "";
    const tty = { ...io, stderr: { write: (t: string) => (err += t), isTTY: true } };
    expect(await labCommand([example], { constraint: "identity", ...small, out: scratch() }, tty)).toBe(0);
    expect(err).toContain("\r\x1b[2Klab [1/2] identity, scale 1");
    expect(err).toMatch(/\r\x1b\[2Kwrote /);
  });

  it("reports an unknown constraint with a suggestion (MHC2002, exit 1) and writes nothing", async () => {
    const dir = join(scratch(), "out");
    const io = memoryIO();
    expect(await labCommand([example], { constraint: "sinkhron,unconstrained", out: dir }, io)).toBe(1);
    expect(io.err()).toContain("error[MHC2002]: cannot find a constraint or builtin named `sinkhron`");
    expect(io.err()).toContain("help: did you mean `sinkhorn`?");
    expect(existsSync(dir)).toBe(false);
    const notConstraint = memoryIO();
    expect(await labCommand([example], { constraint: "ortho", out: dir }, notConstraint)).toBe(1);
    expect(notConstraint.err()).toContain("`ortho` is a connection, not a constraint");
  });

  it("rejects bad flags as usage errors (exit 2)", async () => {
    const bad: Record<string, unknown>[] = [{}, { constraint: "" }, { constraint: "sinkhorn", n: 0 }, { constraint: "sinkhorn", n: "four" }, { constraint: "sinkhorn", n: 17 }, { constraint: "sinkhorn", depth: 1.5 }, { constraint: "sinkhorn", scales: "1,-1" }, { constraint: "sinkhorn", samples: "0" }, { constraint: "sinkhorn", set: "iters" }];
    for (const options of bad) await expect(labCommand([example], options, memoryIO())).rejects.toBeInstanceOf(UsageError);
    await expect(labCommand([], { constraint: "sinkhorn" }, memoryIO())).rejects.toBeInstanceOf(UsageError);
  });

  it("applies --set to the constraints that have the parameter and rejects unknown or mistyped ones", async () => {
    const dir = scratch();
    expect(await labCommand([example], { constraint: "sinkhorn,unconstrained", ...small, set: "iters=3", out: dir }, memoryIO())).toBe(0);
    const report = parseReportJson(readFileSync(join(dir, "report.json"), "utf8"));
    expect(report.constraints[0]!.args).toEqual({ iters: 3, eps: 1e-6 });
    expect(report.settings.settings).toEqual({ iters: 3 });
    const unknown = memoryIO();
    expect(await labCommand([example], { constraint: "sinkhorn", set: "iter=3", out: dir }, unknown)).toBe(1);
    expect(unknown.err()).toContain("error[MHC6014]");
    expect(unknown.err()).toContain("did you mean `iters`?");
    const mistyped = memoryIO();
    expect(await labCommand([example], { constraint: "sinkhorn", set: "iters=2.5", out: dir }, mistyped)).toBe(1);
    expect(mistyped.err()).toContain("error[MHC6014]");
  });

  it("says loudly when a constraint produces non-finite values (MHC6012, exit 1) and still writes the report", async () => {
    const dir = scratch();
    writeFileSync(
      join(dir, "bad.mhc"),
      [
        "// exp without max-subtraction: overflows for large logits",
        "constraint naive(L: [n, n]) -> [n, n] {",
        "  let M = exp(L)",
        "  return M / rowsum(M)",
        "}",
        "constraint needs_k(L: [n, n], k: int) -> [n, n] {",
        "  return L * k",
        "}",
        "",
      ].join("\n"),
    );
    const io = memoryIO(dir);
    expect(await labCommand(["bad.mhc"], { constraint: "naive", ...small, scales: "1,1e4", out: "out" }, io)).toBe(1);
    expect(io.err()).toMatch(/error\[MHC6012\]: `naive` produced NaN at index \[\d+, \d+, \d+\]/);
    expect(io.err()).toContain("at logits scale 1e4");
    expect(io.out()).toMatch(/\d+ H, \d+ grad/);
    const report = parseReportJson(readFileSync(join(dir, "out", "report.json"), "utf8"));
    expect(report.constraints[0]!.declaredIn).toBe("bad.mhc");
    expect(report.nonFinite.outputs).toBeGreaterThan(0);
    expect(report.constraints[0]!.scales[0]!.nonFinite).toEqual({ outputs: 0, gradients: 0 });

    const missing = memoryIO(dir);
    expect(await labCommand(["bad.mhc"], { constraint: "needs_k", out: "out" }, missing)).toBe(1);
    expect(missing.err()).toContain("error[MHC2025]: missing argument `k` of `needs_k`");
    expect(missing.err()).toContain("--set k=VALUE");
  });

  it("refuses logits too large to sample (birkhoff_lite at n = 12 has 12! logits)", async () => {
    const io = memoryIO();
    expect(await labCommand([example], { constraint: "birkhoff_lite", n: 12, out: scratch() }, io)).toBe(1);
    expect(io.err()).toContain("error[MHC3021]");
  });
});
