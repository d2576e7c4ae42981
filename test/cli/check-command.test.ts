import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { memoryIO } from "../helpers/memory-io.js";

const scratch = () => mkdtempSync(join(tmpdir(), "mhc-cli-"));

describe("mhc check", () => {
  it("exits 0 on the examples and says nothing but the summary in --verbose", () => {
    const io = memoryIO();
    expect(runCli(["check", "examples/tiny.mhc", "examples/deepseek-v4-flash.mhc"], io)).toBe(0);
    expect(io.out()).toBe("");
    expect(io.err()).toBe("");
    const verbose = memoryIO();
    expect(runCli(["check", "examples/tiny.mhc", "--verbose"], verbose)).toBe(0);
    expect(verbose.err()).toMatch(/model\(s\)/);
  });

  it("exits 1 with rendered diagnostics on stderr", () => {
    const dir = scratch();
    writeFileSync(join(dir, "bad.mhc"), "constraint c(L: [n, n]) -> [n, n] {\n  return L / ones([n, 2])\n}\n");
    const io = memoryIO(dir);
    expect(runCli(["check", "bad.mhc"], io)).toBe(1);
    expect(io.err()).toContain("error[MHC3002]");
    expect(io.err()).toContain("--> bad.mhc:2:10");
    expect(io.err()).toContain("could not check `bad.mhc` due to 1 previous error");
    expect(io.out()).toBe("");
  });

  it("prints one JSON array on stdout with --format json", () => {
    const dir = scratch();
    writeFileSync(join(dir, "bad.mhc"), "model m {\n  vocab 0\n}\n");
    const io = memoryIO(dir);
    expect(runCli(["check", "bad.mhc", "--format", "json"], io)).toBe(1);
    const parsed = JSON.parse(io.out()) as Record<string, unknown>[];
    expect(parsed.map((d) => [d["code"], d["line"], d["column"]])).toEqual([
      ["MHC4003", 1, 7],
      ["MHC4013", 1, 7],
      ["MHC4006", 2, 9],
    ]);
    for (const d of parsed) expect(Object.keys(d).slice(0, 9)).toEqual(["code", "severity", "message", "file", "line", "column", "endLine", "endColumn", "notes"]);
    expect(io.err()).toBe("");
  });

  it("reports a missing input file as a coded error, not a crash", () => {
    const io = memoryIO(scratch());
    expect(runCli(["check", "nope.mhc", "--format", "json"], io)).toBe(1);
    expect((JSON.parse(io.out()) as { code: string }[]).map((d) => d.code)).toEqual(["MHC6001"]);
  });

  it("exits 2 on usage mistakes", () => {
    for (const argv of [["check"], ["check", "x.mhc", "--format", "xml"], ["frobnicate"], ["check", "--no-such-flag", "x.mhc"], ["explain"], ["explain", "MHC0000"]]) {
      const io = memoryIO();
      expect(runCli(argv, io), argv.join(" ")).toBe(2);
      expect(io.err()).toMatch(/^error: /);
      expect(io.err()).not.toMatch(/\n\s+at /);
    }
  });

  it("shows help and the version", () => {
    const info = vi.spyOn(console, "info").mockImplementation(() => {});
    expect(runCli(["--help"], memoryIO())).toBe(0);
    expect(runCli(["check", "--help"], memoryIO())).toBe(0);
    expect(runCli(["--version"], memoryIO())).toBe(0);
    const printed = info.mock.calls.map((c) => String(c[0])).join("\n");
    expect(printed).toContain("check [...files]");
    expect(printed).toContain("--format <format>");
    expect(printed).toMatch(/mhc\/\d+\.\d+\.\d+/);
  });
});

describe("mhc explain", () => {
  it("prints the long form of a code, in any case", () => {
    const io = memoryIO();
    expect(runCli(["explain", "mhc3002"], io)).toBe(0);
    expect(io.out()).toMatch(/^# MHC3002/);
  });
});

describe("internal errors", () => {
  afterEach(() => {
    delete process.env["MHC_FORCE_INTERNAL_ERROR"];
  });

  it("exit 70 with a saved reproducer, never looking like a user error", () => {
    process.env["MHC_FORCE_INTERNAL_ERROR"] = "1";
    const io = memoryIO();
    expect(runCli(["check", "examples/tiny.mhc"], io)).toBe(70);
    expect(io.err()).toMatch(/^internal compiler error\[MHC9001\]/);
    const where = /reproducer was saved to (\S+)/.exec(io.err())?.[1];
    expect(where && existsSync(join(where, "reproducer.json"))).toBe(true);
    const report = JSON.parse(readFileSync(join(where!, "reproducer.json"), "utf8")) as { argv: string[]; stack: string };
    expect(report.argv).toEqual(["check", "examples/tiny.mhc"]);
    expect(report.stack).toContain("forced internal error");
    expect(existsSync(join(where!, "0-tiny.mhc"))).toBe(true);
  });
});
