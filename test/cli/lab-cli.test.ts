import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../compiler/cli/app.js";
import { memoryIO } from "../helpers/memory-io.js";

describe("mhc lab from the command line", () => {
  it("compares constraints found in several files and writes the report", async () => {
    const out = mkdtempSync(join(tmpdir(), "mhc-lab-cli-"));
    const io = memoryIO();
    const args = ["lab", "examples/tiny.mhc", "examples/my-constraint.mhc", "--constraint", "sinkhorn,tempered_sinkhorn", "--samples", "4", "--depth", "5", "--scales", "1", "--out", out];
    expect(await runCli(args, io), io.err()).toBe(0);
    const report = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as { constraints: { name: string }[] };
    expect(report.constraints.map((c) => c.name)).toEqual(["sinkhorn", "tempered_sinkhorn"]);
    expect(io.out()).toContain("tempered_sinkhorn");
  });

  it("exits 1 with a suggestion for an unknown constraint, 2 without a file", async () => {
    const io = memoryIO();
    expect(await runCli(["lab", "examples/tiny.mhc", "--constraint", "sinkhron", "--samples", "2", "--out", mkdtempSync(join(tmpdir(), "mhc-lab-cli-"))], io)).toBe(1);
    expect(io.err()).toContain("did you mean `sinkhorn`?");
    expect(await runCli(["lab", "--constraint", "sinkhorn"], memoryIO())).toBe(2);
  });
});
