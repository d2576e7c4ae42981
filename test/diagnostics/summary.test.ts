import { describe, expect, it } from "vitest";
import { DiagnosticBag } from "../../compiler/diagnostics/bag.js";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { renderSummary } from "../../compiler/diagnostics/render.js";
import { span } from "../../compiler/source/span.js";

const plain = { color: false };
const counts = (errorCount: number, warningCount: number, suppressed = 0) => ({ errorCount, warningCount, suppressed });

describe("renderSummary", () => {
  it("counts errors and warnings, in the singular and the plural", () => {
    expect(renderSummary(["x.mhc"], counts(3, 1), plain)).toBe("error: could not check `x.mhc` due to 3 previous errors; 1 warning emitted\n");
    expect(renderSummary(["x.mhc"], counts(1, 0), plain)).toBe("error: could not check `x.mhc` due to 1 previous error\n");
    expect(renderSummary(["x.mhc"], counts(2, 2), plain)).toBe("error: could not check `x.mhc` due to 2 previous errors; 2 warnings emitted\n");
  });

  it("names the command's verb when given", () => {
    expect(renderSummary(["x.mhc"], counts(1, 0), { color: false, verb: "compile" })).toBe("error: could not compile `x.mhc` due to 1 previous error\n");
  });

  it("reports warnings alone without calling the run a failure", () => {
    expect(renderSummary(["x.mhc"], counts(0, 2), plain)).toBe("warning: `x.mhc` generated 2 warnings\n");
  });

  it("says nothing when there is nothing to say", () => {
    expect(renderSummary(["x.mhc"], counts(0, 0), plain)).toBe("");
  });

  it("names several files, and counts many", () => {
    expect(renderSummary(["a.mhc", "b.mhc"], counts(1, 0), plain)).toBe("error: could not check `a.mhc` and `b.mhc` due to 1 previous error\n");
    expect(renderSummary(["a.mhc", "b.mhc", "c.mhc"], counts(1, 0), plain)).toBe("error: could not check `a.mhc`, `b.mhc` and `c.mhc` due to 1 previous error\n");
    expect(renderSummary(["a", "b", "c", "d"], counts(1, 0), plain)).toBe("error: could not check 4 files due to 1 previous error\n");
  });

  it("adds a note for errors the bag did not keep, taking its counts from a real bag", () => {
    const bag = new DiagnosticBag();
    for (let i = 0; i < 53; i++) bag.report(Diag.UnknownName, span("x.mhc", i, i + 1), [`v${i}`]);
    bag.report(Diag.UnusedVariable, span("x.mhc", 100, 101), ["z"]);
    expect(renderSummary(["x.mhc"], bag, plain)).toBe(
      "error: could not check `x.mhc` due to 53 previous errors; 1 warning emitted\n" + "note: 3 more errors not shown (at most 50 errors are shown per file)\n",
    );
  });

  it("colours the severity word when colour is on", () => {
    const out = renderSummary(["x.mhc"], counts(1, 0), { color: true });
    expect(out).toContain("\u001b[31m");
    expect(out.replace(/\u001b\[\d+m/g, "")).toBe(renderSummary(["x.mhc"], counts(1, 0), plain));
  });
});
