import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeSafetensors, parseJson, parseSafetensors, readSafetensors, writeSafetensors, type SafetensorsFile } from "../../compiler/io/safetensors.js";
import { makeNdArray, type IoResult, type NdArray, type NdDType } from "../../compiler/io/ndarray.js";
import { roundToBf16, roundToF16 } from "../../compiler/io/float16.js";
import { bytesOf, concat, hex, safetensorsFile, useTempDir, utf8 } from "./fixtures.js";

function ok(result: IoResult<SafetensorsFile>): SafetensorsFile {
  if (!result.ok) throw new Error(`${result.diagnostic.code} ${result.diagnostic.message} ${result.diagnostic.notes.join("; ")}`);
  return result.value;
}

function problem(result: IoResult<SafetensorsFile>): { code: string; message: string; notes: readonly string[] } {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error("unreachable");
  const { code, message, notes } = result.diagnostic;
  return { code, message, notes };
}

const parse = (bytes: Uint8Array) => parseSafetensors(bytes, "w.safetensors");

/** One F32 tensor `a` of shape [2] at [0, 8), as the reference writes it, with `tweak` applied to the header. */
function oneTensor(entry: string, data = bytesOf("f32", [1, 2])): Uint8Array {
  return safetensorsFile(`{"a":${entry}}`, data);
}

describe("reading safetensors files laid out as the reference writes them", () => {
  it("reads the reference layout: metadata first, compact JSON padded with spaces to 8 bytes", () => {
    // What `safetensors.torch.save_file({"weight": ..., "bias": ..., "step": ...}, metadata={"format": "pt"})` writes:
    // tensors sorted by alignment then name, so the data of `bias` follows `weight`'s.
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
      '"step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},' +
      '"weight":{"dtype":"BF16","shape":[2,2],"data_offsets":[16,24]}}';
    const file = safetensorsFile(header, concat(bytesOf("i64", [1000]), bytesOf("f32", [0.5, -1]), hex("803f 0040 4040 80bf")));
    expect(file.length % 8).toBe(0);
    const { tensors, metadata } = ok(parse(file));
    expect(metadata).toEqual({ format: "pt" });
    expect([...tensors.keys()]).toEqual(["bias", "step", "weight"]);
    expect(tensors.get("bias")).toEqual({ dtype: "f32", shape: [2], data: Float64Array.from([0.5, -1]) });
    expect(tensors.get("step")).toEqual({ dtype: "i64", shape: [], data: Float64Array.from([1000]) });
    expect(tensors.get("weight")).toEqual({ dtype: "bf16", shape: [2, 2], data: Float64Array.from([1, 2, 3, -1]) });
  });

  it("keeps the header's order even for names that look like integers", () => {
    const header = '{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"1":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"0":{"dtype":"BOOL","shape":[1],"data_offsets":[2,3]}}';
    const { tensors } = ok(parse(safetensorsFile(header, hex("07 08 01"))));
    expect([...tensors.entries()].map(([k, v]) => [k, v.dtype, v.data[0]])).toEqual([
      ["b", "u8", 7],
      ["1", "u8", 8],
      ["0", "bool", 1],
    ]);
  });

  it("reads every dtype, scalars, zero-size tensors, no metadata, null metadata and no padding", () => {
    const header =
      '{"__metadata__":null,' +
      '"f64":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"f16":{"dtype":"F16","shape":[1,1],"data_offsets":[8,10]},' +
      '"empty":{"dtype":"F32","shape":[0,5],"data_offsets":[10,10]},' +
      '"i8":{"dtype":"I8","shape":[],"data_offsets":[10,11]},' +
      '"i16":{"dtype":"I16","shape":[1],"data_offsets":[11,13]},' +
      '"i32":{"dtype":"I32","shape":[1],"data_offsets":[13,17]}}';
    const data = concat(bytesOf("f64", [0.1]), hex("003c"), hex("ff"), bytesOf("i16", [-300]), bytesOf("i32", [-70000]));
    const { tensors, metadata } = ok(parse(safetensorsFile(header, data, { pad: false })));
    expect(metadata).toEqual({});
    expect([...tensors.values()].map((t) => [t.dtype, t.shape, [...t.data]])).toEqual([
      ["f64", [1], [0.1]],
      ["f16", [1, 1], [1]],
      ["f32", [0, 5], []],
      ["i8", [], [-1]],
      ["i16", [1], [-300]],
      ["i32", [1], [-70000]],
    ]);
    expect(ok(parse(safetensorsFile("{}", new Uint8Array()))).tensors.size).toBe(0);
  });

  it("keeps a metadata key `__proto__` as data", () => {
    const { metadata } = ok(parse(safetensorsFile('{"__metadata__":{"__proto__":"x","a":"\\u00e9"}}', new Uint8Array())));
    expect(Object.keys(metadata)).toEqual(["__proto__", "a"]);
    expect(metadata.a).toBe("é");
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
  });
});

describe("rejecting malformed safetensors files", () => {
  const cases: [string, Uint8Array, string, string][] = [
    ["empty", new Uint8Array(), "MHC6005", "it is empty"],
    ["shorter than the length", hex("0800"), "MHC6005", "it is 2 bytes long, too short for the 8-byte header length"],
    ["a .npy file", hex("934e554d5059 0100 7600 7b27"), "MHC6005", "above the limit"],
    ["header length beyond the file", safetensorsFile("{}", new Uint8Array(), { declaredLength: 64n }), "MHC6003", "its header is 64 bytes long, but only 8 bytes follow"],
    ["header length enormous", safetensorsFile("{}", new Uint8Array(), { declaredLength: 2n ** 63n }), "MHC6005", "above the limit of 100000000"],
    ["header not UTF-8", concat(hex("0200000000000000"), hex("7bff")), "MHC6005", "not valid UTF-8"],
    ["header not starting with {", safetensorsFile(' {"a":1}', new Uint8Array()), "MHC6005", "does not start with `{`"],
    ["header not JSON", safetensorsFile("{'a': 1}", new Uint8Array()), "MHC6005", "its header is not valid JSON"],
    ["header JSON with trailing text", safetensorsFile("{} {}", new Uint8Array()), "MHC6005", "not valid JSON"],
    ["header JSON not an object", safetensorsFile("[1, 2]", new Uint8Array(), {}), "MHC6005", "does not start with `{`"],
    ["duplicate tensor", safetensorsFile('{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[],"data_offsets":[1,2]}}', hex("0102")), "MHC6005", "the key `a` twice"],
    ["metadata not an object", safetensorsFile('{"__metadata__":[]}', new Uint8Array()), "MHC6005", "`__metadata__` is a JSON array"],
    ["metadata value not a string", safetensorsFile('{"__metadata__":{"step":3}}', new Uint8Array()), "MHC6005", "entry `step` is a JSON number, not a string"],
    ["entry not an object", oneTensor("3"), "MHC6005", "tensor `a` is described by a JSON number"],
    ["missing dtype", oneTensor('{"shape":[2],"data_offsets":[0,8]}'), "MHC6005", "tensor `a` has no `dtype`"],
    ["extra field", oneTensor('{"dtype":"F32","shape":[2],"data_offsets":[0,8],"stride":[1]}'), "MHC6005", "unexpected field `stride`"],
    ["unknown dtype", oneTensor('{"dtype":"FLOAT32","shape":[2],"data_offsets":[0,8]}'), "MHC6005", "tensor `a` has an unknown dtype `FLOAT32`"],
    ["lower-case dtype", oneTensor('{"dtype":"f32","shape":[2],"data_offsets":[0,8]}'), "MHC6005", "unknown dtype `f32`"],
    ["unsupported dtype", oneTensor('{"dtype":"U32","shape":[2],"data_offsets":[0,8]}'), "MHC6004", "tensor `a` has dtype U32, which is not supported"],
    ["unsupported fp8", oneTensor('{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}'), "MHC6004", "F8_E4M3"],
    ["shape not an array", oneTensor('{"dtype":"F32","shape":2,"data_offsets":[0,8]}'), "MHC6005", "shape that is a JSON number"],
    ["non-integer shape", oneTensor('{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}'), "MHC6005", "not a non-negative integer (2.0)"],
    ["exponent shape", oneTensor('{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}'), "MHC6005", "(2e0)"],
    ["negative shape", oneTensor('{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}'), "MHC6005", "(-2)"],
    ["string shape", oneTensor('{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}'), "MHC6005", '("2")'],
    ["huge shape", oneTensor('{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}'), "MHC6005", "not a non-negative integer"],
    ["offsets not a pair", oneTensor('{"dtype":"F32","shape":[2],"data_offsets":[0]}'), "MHC6005", "not a pair"],
    ["offsets negative", oneTensor('{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}'), "MHC6005", "not non-negative integers"],
    ["offsets reversed", oneTensor('{"dtype":"F32","shape":[2],"data_offsets":[8,0]}'), "MHC6005", "[8, 0] that end before they begin"],
    ["size mismatch", oneTensor('{"dtype":"F32","shape":[3],"data_offsets":[0,8]}'), "MHC6005", "tensor `a` has 8 bytes of data (data_offsets [0, 8]), but F32 of shape [3] needs 12"],
    ["size mismatch with a huge shape", oneTensor('{"dtype":"F64","shape":[9007199254740991,9007199254740991],"data_offsets":[0,8]}'), "MHC6005", "needs 649037107316853309451123965296648"],
    ["truncated data", oneTensor('{"dtype":"F32","shape":[2],"data_offsets":[0,8]}', bytesOf("f32", [1])), "MHC6003", "its tensors need 8 bytes of data, but it has 4"],
    ["offsets out of range", oneTensor('{"dtype":"F32","shape":[2],"data_offsets":[1000,1008]}'), "MHC6005", "the data_offsets of tensor `a` lie outside its 8-byte data buffer"],
    ["hole at the start", oneTensor('{"dtype":"F32","shape":[1],"data_offsets":[4,8]}'), "MHC6005", "bytes 0 to 4 of its data buffer belong to no tensor"],
    ["hole at the end", oneTensor('{"dtype":"F32","shape":[1],"data_offsets":[0,4]}'), "MHC6005", "the last 4 bytes of its data buffer belong to no tensor"],
    [
      "hole between tensors",
      safetensorsFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', hex("010203")),
      "MHC6005",
      "bytes 1 to 2 of its data buffer belong to no tensor",
    ],
    [
      "overlap",
      safetensorsFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', bytesOf("f32", [1, 2])),
      "MHC6005",
      "the data of tensors `a` and `b` overlap",
    ],
    [
      "shared data",
      safetensorsFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytesOf("f32", [1, 2])),
      "MHC6005",
      "the data of tensors `a` and `b` overlap",
    ],
    ["bool not 0 or 1", oneTensor('{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}', hex("0102")), "MHC6005", "the bool element at index [1] of tensor `a` is neither 0 nor 1"],
    ["int64 beyond 2^53", oneTensor('{"dtype":"I64","shape":[1],"data_offsets":[0,8]}', hex("ffffffffffffff7f")), "MHC6004", "int64 element at index [0] of tensor `a` is too large"],
  ];

  it.each(cases)("rejects %s", (_, bytes, code, expected) => {
    const result = problem(parse(bytes));
    expect(result.code).toBe(code);
    expect(result.message).toContain(expected);
    expect(result.message).toContain("`w.safetensors`");
  });

  it("names the offsets of overlapping tensors and the position of a JSON error", () => {
    const overlap = cases.find((c) => c[0] === "overlap")!;
    expect(problem(parse(overlap[1])).notes).toEqual(["`a` has bytes [0, 8) and `b` bytes [4, 8) of the data buffer"]);
    expect(problem(parse(safetensorsFile('{"a":}', new Uint8Array()))).notes).toEqual(["at character 5 of the header: expected a value, found `}`"]);
  });
});

describe("writing safetensors files", () => {
  const tmp = useTempDir();

  const all: [string, NdArray][] = (
    [
      ["f64", [2, 2], [0.1, -0, 1e300, Number.MIN_VALUE]],
      ["f32", [3], [0.1, 1e-45, -3]],
      ["f16", [2], [0.1, 65504]],
      ["bf16", [2, 1], [0.1, 3e38]],
      ["i64", [2], [-(2 ** 53) + 1, 2 ** 53 - 1]],
      ["i32", [], [-7]],
      ["i16", [1], [-32768]],
      ["i8", [1], [127]],
      ["u8", [0], []],
      ["bool", [3], [1, 0, 1]],
    ] as [NdDType, number[], number[]][]
  ).map(([dtype, shape, values]) => [`t_${dtype}`, makeNdArray(dtype, shape, values)]);

  const rounded = (array: NdArray): number[] =>
    [...array.data].map(array.dtype === "f32" ? Math.fround : array.dtype === "f16" ? roundToF16 : array.dtype === "bf16" ? roundToBf16 : (v) => v);

  it("round-trips every dtype, in the given order, with metadata", () => {
    const bytes = encodeSafetensors(all, { format: "pt", note: "é \"quoted\"" });
    const back = ok(parse(bytes));
    expect([...back.tensors.keys()]).toEqual(all.map(([name]) => name));
    for (const [name, array] of all) {
      expect(back.tensors.get(name)).toEqual({ dtype: array.dtype, shape: array.shape, data: Float64Array.from(rounded(array)) });
    }
    expect(back.metadata).toEqual({ format: "pt", note: 'é "quoted"' });
    // Reversed input gives reversed output: the given order is kept.
    expect([...ok(parse(encodeSafetensors([...all].reverse()))).tensors.keys()]).toEqual(all.map(([n]) => n).reverse());
  });

  it("writes the reference layout, byte for byte", () => {
    const bytes = encodeSafetensors(
      [
        ["w", makeNdArray("f32", [1, 2], [1, 2])],
        ["b", makeNdArray("u8", [], [3])],
      ],
      { format: "pt" },
    );
    const header = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[],"data_offsets":[8,9]}}';
    expect(header.length).toBe(138);
    expect(bytes).toEqual(safetensorsFile(header, concat(bytesOf("f32", [1, 2]), hex("03"))));
    expect(new DataView(bytes.buffer).getBigUint64(0, true)).toBe(144n);
    expect(new TextDecoder().decode(bytes.subarray(8 + 138, 8 + 144))).toBe("      ");
  });

  it("omits empty metadata and writes an empty file as `{}` padded", () => {
    expect(encodeSafetensors([])).toEqual(concat(hex("0800000000000000"), utf8("{}      ")));
  });

  it("is deterministic", () => {
    expect(encodeSafetensors(all, { a: "1", b: "2" })).toEqual(encodeSafetensors(new Map(all), { a: "1", b: "2" }));
  });

  it("refuses what cannot be written, as a bug in the caller", () => {
    const a = makeNdArray("f32", [1]);
    expect(() => encodeSafetensors([["__metadata__", a]])).toThrow(/__metadata__/);
    expect(() => encodeSafetensors([["a", a], ["a", a]])).toThrow(/two tensors are named `a`/);
    expect(() => encodeSafetensors([["a", makeNdArray("i8", [1], [128])]])).toThrow(/int8/);
    expect(() => encodeSafetensors([], { step: 3 as unknown as string })).toThrow(/must be a string/);
  });

  it("writes atomically: reads back, leaves no temporary file, keeps the target on failure", () => {
    const path = join(tmp(), "w.safetensors");
    const result = writeSafetensors(path, all, { format: "mhc" });
    expect(result.ok).toBe(true);
    expect(ok(readSafetensors(path)).metadata).toEqual({ format: "mhc" });
    expect(readdirSync(tmp())).toEqual(["w.safetensors"]);
    writeFileSync(path, "precious");
    const failed = writeSafetensors(join(tmp(), "missing-dir", "w.safetensors"), all);
    expect(failed).toMatchObject({ ok: false, reason: expect.stringContaining("ENOENT") });
    expect(readFileSync(path, "utf8")).toBe("precious");
    expect(readdirSync(tmp())).toEqual(["w.safetensors"]);
    const missing = readSafetensors(join(tmp(), "nope.safetensors"));
    expect(missing.ok ? "" : missing.diagnostic.code).toBe("MHC6001");
  });
});

describe("the strict JSON parser", () => {
  it("keeps key order, duplicates and number text", () => {
    expect(parseJson('{"2":1,"1":[true,null,-0.5e3],"2":"\\ud83d\\ude00"}')).toEqual({
      ok: true,
      value: {
        kind: "object",
        entries: [
          ["2", { kind: "number", raw: "1", value: 1 }],
          [
            "1",
            {
              kind: "array",
              items: [{ kind: "boolean", value: true }, { kind: "null" }, { kind: "number", raw: "-0.5e3", value: -500 }],
            },
          ],
          ["2", { kind: "string", value: "😀" }],
        ],
      },
    });
  });

  it("rejects what RFC 8259 rejects", () => {
    for (const bad of ["", "{", "{'a':1}", '{"a":1,}', "[1,]", "01", "1.", ".5", "+1", "NaN", "Infinity", '"\t"', '"\\x41"', "tru", "[1 2]", "{} x", "[".repeat(100) + "]".repeat(100)]) {
      expect(parseJson(bad).ok, bad).toBe(false);
    }
  });
});
