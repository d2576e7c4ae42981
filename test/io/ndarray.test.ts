import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFinite, expectShape, expectTensors, makeNdArray, unravelIndex, writeFileAtomic, type NdArray } from "../../compiler/io/ndarray.js";
import { writeNpy } from "../../compiler/io/npy.js";
import { useTempDir } from "./fixtures.js";

describe("checkFinite", () => {
  it("accepts finite arrays, empty ones included", () => {
    expect(checkFinite(makeNdArray("f64", [2, 2], [1, -0, 1e308, -5e-324]), "x.npy")).toBeUndefined();
    expect(checkFinite(makeNdArray("f32", [0, 3]), "x.npy")).toBeUndefined();
  });

  it("names the first NaN or infinity as a multi-index, and counts the rest", () => {
    const data = new Array<number>(24).fill(0);
    data[3 * 0 + 1 * 4 + 2] = NaN; // [0, 1, 2]
    data[1 * 12 + 2 * 4 + 3] = Infinity; // [1, 2, 3]
    const d = checkFinite(makeNdArray("f64", [2, 3, 4], data), "logits.npy")!;
    expect(d).toMatchObject({ code: "MHC6007", severity: "error", message: "`logits.npy` contains NaN at index [0, 1, 2]" });
    expect(d.notes).toEqual(["2 of its 24 values are not finite; this is the first in row-major order"]);
    expect(d.help).toContain("finite");
    expect(checkFinite(makeNdArray("f64", [3], [0, 0, -Infinity]), "x")!.message).toBe("`x` contains -Inf at index [2]");
    expect(checkFinite(makeNdArray("f64", [1, 1], [Infinity]), "x")!.message).toBe("`x` contains +Inf at index [0, 0]");
  });

  it("gives a scalar the index []", () => {
    const d = checkFinite(makeNdArray("f64", [], [NaN]), "s.npy")!;
    expect(d.message).toBe("`s.npy` contains NaN at index []");
    expect(d.notes).toEqual(["it is the only value of 1 that is not finite", "the array is a scalar, so its index is `[]`"]);
  });

  it("unravels flat indices in row-major order", () => {
    expect(unravelIndex(23, [2, 3, 4])).toEqual([1, 2, 3]);
    expect(unravelIndex(5, [6])).toEqual([5]);
    expect(unravelIndex(0, [])).toEqual([]);
  });
});

describe("expectShape", () => {
  const x = makeNdArray("f32", [7, 4, 96]);
  it("matches numbers exactly and names consistently", () => {
    expect(expectShape("x.npy", x, ["T", 4, "C"])).toBeUndefined();
    expect(expectShape("x.npy", makeNdArray("f64", [4, 4]), ["n", "n"])).toBeUndefined();
    expect(expectShape("s.npy", makeNdArray("f64", []), [])).toBeUndefined();
  });

  it("reports the shape, the expectation and what differs", () => {
    expect(expectShape("x.npy", x, ["T", 3, "C"])).toMatchObject({
      code: "MHC6008",
      message: "`x.npy` has shape [7, 4, 96], expected [T, 3, C]",
      notes: ["dimension 1 is 4, expected 3"],
    });
    expect(expectShape("x.npy", x, ["T", "n", "C", "D"])!.notes).toEqual(["it has 3 dimensions, expected 4"]);
    expect(expectShape("l.npy", makeNdArray("f64", [4, 3]), ["n", "n"])!.notes).toEqual(["`n` is 4 in dimension 0 but 3 in dimension 1"]);
  });
});

describe("expectTensors", () => {
  const t = (...shape: number[]): NdArray => makeNdArray("f32", shape);
  const expected = [
    { name: "phi_pre", shape: [16, 4] },
    { name: "phi_post", shape: [16, 4] },
    { name: "alpha", shape: [3] },
  ];

  it("is empty when the tensors match, in any order", () => {
    expect(expectTensors("w.safetensors", new Map([["alpha", t(3)], ["phi_post", t(16, 4)], ["phi_pre", t(16, 4)]]), expected)).toEqual([]);
  });

  it("reports every missing, mis-shaped and extra tensor, not just the first", () => {
    const tensors = new Map([
      ["phi_pres", t(16, 4)],
      ["alpha", t(3, 1)],
      ["junk", t(1)],
    ]);
    const diagnostics = expectTensors("w.safetensors", tensors, expected);
    expect(diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "MHC6009 `w.safetensors` has no tensor `phi_pre`",
      "MHC6009 `w.safetensors` has no tensor `phi_post`",
      "MHC6011 tensor `alpha` in `w.safetensors` has shape [3, 1], expected [3]",
      "MHC6010 `w.safetensors` has an unexpected tensor `phi_pres`",
      "MHC6010 `w.safetensors` has an unexpected tensor `junk`",
    ]);
    expect(diagnostics[0]!.help).toBe("the file has `phi_pres`; was it meant to be `phi_pre`?");
    expect(diagnostics[0]!.notes).toEqual(["a tensor `phi_pre` of shape [16, 4] is expected"]);
    expect(diagnostics[2]!.notes).toEqual(["it has 2 dimensions, expected 1"]);
    expect(diagnostics[3]!.help).toBe("rename it to `phi_pre`");
    expect(diagnostics[4]!.notes).toEqual(["the expected tensors are `phi_pre`, `phi_post`, `alpha`"]);
    for (const d of diagnostics) expect(d.span).toBeUndefined();
  });
});

describe("writeFileAtomic", () => {
  const tmp = useTempDir();

  it("creates and replaces files, leaving nothing else", () => {
    const path = join(tmp(), "out.bin");
    expect(writeFileAtomic(path, Uint8Array.from([1, 2, 3]))).toEqual({ ok: true, bytes: 3 });
    expect(writeFileAtomic(path, Uint8Array.from([4]))).toEqual({ ok: true, bytes: 1 });
    expect([...readFileSync(path)]).toEqual([4]);
    expect(readdirSync(tmp())).toEqual(["out.bin"]);
  });

  it("reports a failure, removes its temporary file and keeps the target", () => {
    const target = join(tmp(), "target");
    mkdirSync(join(target, "child"), { recursive: true });
    const result = writeFileAtomic(target, new Uint8Array(10));
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(/^E[A-Z]+: /);
    expect(readdirSync(tmp())).toEqual(["target"]);
    expect(readdirSync(target)).toEqual(["child"]);
  });

  it("writes nothing when the array cannot be encoded", () => {
    const path = join(tmp(), "x.npy");
    writeFileSync(path, "old");
    expect(() => writeNpy(path, makeNdArray("u8", [1], [-1]))).toThrow(RangeError);
    expect(readFileSync(path, "utf8")).toBe("old");
    expect(readdirSync(tmp())).toEqual(["x.npy"]);
  });
});
