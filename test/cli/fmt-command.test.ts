import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { memoryIO } from "../helpers/memory-io.js";

const messy = "model m {vocab 256\n      dim 64}\n";
const tidy = "model m {\n  vocab 256\n  dim 64\n}\n";

function workdir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "mhc-fmt-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe("mhc fmt", () => {
  it("rewrites unformatted files in place and leaves formatted ones alone", async () => {
    const dir = workdir({ "a.mhc": messy, "b.mhc": tidy });
    const io = memoryIO(dir);
    expect(await runCli(["fmt", "a.mhc", "b.mhc"], io)).toBe(0);
    expect(readFileSync(join(dir, "a.mhc"), "utf8")).toBe(tidy);
    expect(readFileSync(join(dir, "b.mhc"), "utf8")).toBe(tidy);
    expect(io.err()).toBe("formatted a.mhc\n");
    expect(readdirSync(dir).sort()).toEqual(["a.mhc", "b.mhc"]);
  });

  it("--check writes nothing and exits 1 naming the files that would change", async () => {
    const dir = workdir({ "a.mhc": messy, "b.mhc": tidy });
    const io = memoryIO(dir);
    expect(await runCli(["fmt", "--check", "a.mhc", "b.mhc"], io)).toBe(1);
    expect(readFileSync(join(dir, "a.mhc"), "utf8")).toBe(messy);
    expect(io.err()).toBe("not formatted: a.mhc\n");
    expect(await runCli(["fmt", "--check", "b.mhc"], memoryIO(dir))).toBe(0);
  });

  it("--stdout prints the result and writes nothing", async () => {
    const dir = workdir({ "a.mhc": messy });
    const io = memoryIO(dir);
    expect(await runCli(["fmt", "--stdout", "a.mhc"], io)).toBe(0);
    expect(io.out()).toBe(tidy);
    expect(readFileSync(join(dir, "a.mhc"), "utf8")).toBe(messy);
  });

  it("reports a syntax error with its code, leaves that file untouched and still formats the others", async () => {
    const broken = "model m {\n  vocab 256 +\n}\n";
    const dir = workdir({ "bad.mhc": broken, "a.mhc": messy });
    const io = memoryIO(dir);
    expect(await runCli(["fmt", "bad.mhc", "a.mhc", "--format", "json"], io)).toBe(1);
    const diagnostics = JSON.parse(io.out()) as { code: string; file: string; line: number }[];
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics[0]!.code).toMatch(/^MHC1\d{3}$/);
    expect(diagnostics[0]!.file).toBe("bad.mhc");
    expect(readFileSync(join(dir, "bad.mhc"), "utf8")).toBe(broken);
    expect(readFileSync(join(dir, "a.mhc"), "utf8")).toBe(tidy);
  });

  it("reports a file that is not UTF-8 (MHC1020) and never writes it back decoded", async () => {
    const dir = workdir({});
    const bytes = Buffer.concat([Buffer.from("model m {\n  vocab 256 // caf"), Buffer.from([0xe9]), Buffer.from("\n}\n")]);
    writeFileSync(join(dir, "latin1.mhc"), bytes);
    const io = memoryIO(dir);
    expect(await runCli(["fmt", "latin1.mhc", "--format", "json"], io)).toBe(1);
    expect((JSON.parse(io.out()) as { code: string }[]).map((d) => d.code)).toEqual(["MHC1020"]);
    expect(readFileSync(join(dir, "latin1.mhc")).equals(bytes)).toBe(true);
  });

  it("reports a missing file as MHC6001 and rejects contradictory options as usage errors", async () => {
    const dir = workdir({});
    const io = memoryIO(dir);
    expect(await runCli(["fmt", "nope.mhc", "--format", "json"], io)).toBe(1);
    expect((JSON.parse(io.out()) as { code: string }[])[0]!.code).toBe("MHC6001");
    expect(await runCli(["fmt", "--check", "--stdout", "x.mhc"], memoryIO(dir))).toBe(2);
    expect(await runCli(["fmt"], memoryIO(dir))).toBe(2);
  });
});
