import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeNpy, parseNpy, parsePythonLiteral, readNpy, writeNpy } from "../../compiler/io/npy.js";
import { makeNdArray, type IoResult, type NdArray, type NdDType } from "../../compiler/io/ndarray.js";
import { roundToF16 } from "../../compiler/io/float16.js";
import { bytesOf, concat, hex, latin1, npyFile, numpyDict, useTempDir, utf8 } from "./fixtures.js";

function ok(result: IoResult<NdArray>): NdArray {
  if (!result.ok) throw new Error(`${result.diagnostic.code} ${result.diagnostic.message} ${result.diagnostic.notes.join("; ")}`);
  return result.value;
}

function problem(result: IoResult<NdArray>): { code: string; message: string; notes: readonly string[] } {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error("unreachable");
  const { code, message, notes } = result.diagnostic;
  return { code, message, notes };
}

const parse = (bytes: Uint8Array) => parseNpy(bytes, "x.npy");

describe("reading .npy files laid out as numpy writes them", () => {
  it("reads numpy's exact bytes for arange(6.).reshape(2, 3)", () => {
    // np.save(f, np.arange(6, dtype='<f8').reshape(2, 3)), byte for byte.
    const file = concat(
      hex("934e554d5059 0100 7600"),
      latin1("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }" + " ".repeat(58) + "\n"),
      hex("0000000000000000 000000000000f03f 0000000000000040 0000000000000840 0000000000001040 0000000000001440"),
    );
    expect(file.length).toBe(128 + 48);
    const a = ok(parse(file));
    expect(a).toEqual({ dtype: "f64", shape: [2, 3], data: Float64Array.from([0, 1, 2, 3, 4, 5]) });
  });

  it("reads a version 2.0, big-endian, Fortran-order int32 array and returns it row-major", () => {
    // np.lib.format.write_array(f, np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3)), version=(2, 0))
    const file = npyFile(numpyDict(">i4", [2, 3], true), hex("00000000 00000003 00000001 00000004 00000002 00000005"), { version: 2 });
    expect(file.subarray(0, 12)).toEqual(hex("934e554d5059 0200 74000000"));
    expect(ok(parse(file))).toEqual({ dtype: "i32", shape: [2, 3], data: Float64Array.from([0, 1, 2, 3, 4, 5]) });
  });

  it("transposes Fortran order in three dimensions", () => {
    const shape = [2, 3, 4];
    const rowMajor = Array.from({ length: 24 }, (_, i) => i);
    // Fortran order: the first index moves fastest.
    const fortran: number[] = [];
    for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) fortran.push(i * 12 + j * 4 + k);
    const a = ok(parse(npyFile(numpyDict("<f4", shape, true), bytesOf("f32", fortran))));
    expect([...a.data]).toEqual(rowMajor);
  });

  it("reads a version 3.0 float16 scalar", () => {
    const a = ok(parse(npyFile(numpyDict("<f2", []), hex("003e"), { version: 3 })));
    expect(a).toEqual({ dtype: "f16", shape: [], data: Float64Array.from([1.5]) });
  });

  it("reads a version 3.0 header with non-ASCII UTF-8 (only whitespace, as the dict allows)", () => {
    const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
    const file = npyFile(dict, bytesOf("f64", [7]), { version: 3 });
    expect(ok(parse(file)).data[0]).toBe(7);
    // A version 3.0 header with a string value in UTF-8: a descr that is not a numpy dtype.
    const weird = problem(parse(npyFile("{'descr': '<é8', 'fortran_order': False, 'shape': (1,), }", bytesOf("f64", [7]), { version: 3 })));
    expect(weird.message).toContain("`<é8` is not a numpy dtype");
  });

  it("reads bool, uint8, int8, int16, int64 and both byte orders of every float", () => {
    expect(ok(parse(npyFile(numpyDict("|b1", [4]), hex("01000101")))).data).toEqual(Float64Array.from([1, 0, 1, 1]));
    expect(ok(parse(npyFile(numpyDict("|u1", [2]), hex("00ff")))).data).toEqual(Float64Array.from([0, 255]));
    expect(ok(parse(npyFile(numpyDict("|i1", [2]), hex("80ff")))).data).toEqual(Float64Array.from([-128, -1]));
    expect(ok(parse(npyFile(numpyDict("<i2", [2]), bytesOf("i16", [-2, 300])))).data).toEqual(Float64Array.from([-2, 300]));
    expect(ok(parse(npyFile(numpyDict(">i2", [2]), bytesOf("i16", [-2, 300], false)))).data).toEqual(Float64Array.from([-2, 300]));
    const big = [-(2 ** 53), 2 ** 53 - 1, -1, 0, 123456789012];
    const i64 = ok(parse(npyFile(numpyDict("<i8", [5]), bytesOf("i64", big))));
    expect([i64.dtype, ...i64.data]).toEqual(["i64", ...big]);
    expect([...ok(parse(npyFile(numpyDict(">i8", [5]), bytesOf("i64", big, false)))).data]).toEqual(big);
    expect([...ok(parse(npyFile(numpyDict(">f8", [2]), bytesOf("f64", [0.1, -2], false)))).data]).toEqual([0.1, -2]);
    expect([...ok(parse(npyFile(numpyDict(">f4", [1]), bytesOf("f32", [0.1], false)))).data]).toEqual([Math.fround(0.1)]);
    expect([...ok(parse(npyFile(numpyDict(">f2", [1]), hex("3e00")))).data]).toEqual([1.5]);
    expect([...ok(parse(npyFile(numpyDict("<f2", [3]), hex("007c 00fc 007e")))).data]).toEqual([Infinity, -Infinity, NaN]);
  });

  it("reads zero-size arrays", () => {
    expect(ok(parse(npyFile(numpyDict("<f8", [0]), new Uint8Array())))).toEqual({ dtype: "f64", shape: [0], data: new Float64Array() });
    expect(ok(parse(npyFile(numpyDict("<f4", [3, 0, 1_000_000_000_000]), new Uint8Array()))).shape).toEqual([3, 0, 1e12]);
  });

  it("accepts what older writers produce: 16-byte alignment, Python 2 longs, double quotes, any key order", () => {
    const dict = `{"shape": (2L, 1L), 'fortran_order': False, u'descr': '<f8'}`;
    const data = bytesOf("f64", [1, 2]);
    const prefix = concat(hex("934e554d5059 0100"), new Uint8Array([dict.length + 6, 0]));
    const file = concat(prefix, latin1(dict + "     \n"), data);
    expect(ok(parse(file))).toEqual({ dtype: "f64", shape: [2, 1], data: Float64Array.from([1, 2]) });
  });
});

describe("rejecting malformed .npy files", () => {
  const good = npyFile(numpyDict("<f8", [2]), bytesOf("f64", [1, 2]));

  it("rejects an empty file and a bad magic string", () => {
    expect(problem(parse(new Uint8Array()))).toMatchObject({ code: "MHC6002", message: "`x.npy` is not a valid .npy file: it is empty" });
    const csv = problem(parse(utf8("1.0,2.0\n3.0,4.0\n")));
    expect(csv.code).toBe("MHC6002");
    expect(csv.message).toContain("magic string");
    expect(csv.notes[0]).toBe("its first bytes are 31 2e 30 2c 32 2e 30 0a");
    const zip = problem(parse(hex("504b0304 1400 0000")));
    expect(zip.code).toBe("MHC6002");
  });

  it("rejects a file cut inside the magic, the version, the header length and the header", () => {
    expect(problem(parse(good.subarray(0, 4))).code).toBe("MHC6003");
    expect(problem(parse(good.subarray(0, 7))).code).toBe("MHC6003");
    expect(problem(parse(good.subarray(0, 9))).message).toBe("`x.npy` is truncated: it ends inside the header length");
    const cut = problem(parse(good.subarray(0, 40)));
    expect(cut.code).toBe("MHC6003");
    expect(cut.message).toContain("its header is 118 bytes long, but the file has only 30 bytes");
  });

  it("rejects a header length beyond the end of the file", () => {
    const file = Uint8Array.from(good);
    new DataView(file.buffer).setUint16(8, 0xfff0, true);
    expect(problem(parse(file))).toMatchObject({ code: "MHC6003", message: expect.stringContaining("header is 65520 bytes long") });
    const v2 = npyFile(numpyDict("<f8", [2]), bytesOf("f64", [1, 2]), { version: 2 });
    new DataView(v2.buffer).setUint32(8, 0xffffffff, true);
    expect(problem(parse(v2)).code).toBe("MHC6003");
  });

  it("rejects truncated data and data after the array", () => {
    const short = problem(parse(good.subarray(0, good.length - 1)));
    expect(short).toMatchObject({ code: "MHC6003", message: "`x.npy` is truncated: its float64 array of shape [2] needs 16 bytes of data, but it has 15" });
    const huge = problem(parse(npyFile(numpyDict("<f8", [1_000_000, 1_000_000, 1_000_000]), bytesOf("f64", [1]))));
    expect(huge.code).toBe("MHC6003");
    const extra = problem(parse(concat(good, bytesOf("f64", [3]))));
    expect(extra).toMatchObject({ code: "MHC6002", message: expect.stringContaining("8 bytes after the array's 16 bytes of data") });
  });

  it("rejects unsupported versions", () => {
    const file = Uint8Array.from(good);
    file[6] = 4;
    expect(problem(parse(file))).toMatchObject({ code: "MHC6004", message: "`x.npy`: .npy format version 4.0 is not supported" });
    file[6] = 1;
    file[7] = 1;
    expect(problem(parse(file)).code).toBe("MHC6004");
  });

  it.each([
    ["not a dict", "['<f8', False, (2,)]", "its header is a Python list, not a dict"],
    ["unclosed dict", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), ", "not a Python dict literal"],
    ["missing colon", "{'descr' '<f8', 'fortran_order': False, 'shape': (2,)}", "not a Python dict literal"],
    ["unterminated string", "{'descr: '<f8', 'fortran_order': False, 'shape': (2,)}", "not a Python dict literal"],
    ["code, not a literal", "{'descr': '<f8', 'fortran_order': __import__('os'), 'shape': (2,)}", "not a Python dict literal"],
    ["an expression", "{'descr': '<f8', 'fortran_order': False, 'shape': (1+1,)}", "not a Python dict literal"],
    ["trailing text", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x", "not a Python dict literal"],
    ["missing key", "{'descr': '<f8', 'shape': (2,), }", "its header has no `fortran_order`"],
    ["extra key", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected key `x`"],
    ["duplicate key", "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", "the key `descr` twice"],
    ["non-string key", "{1: 2, 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", "not a string"],
    ["shape not a tuple", "{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", "its shape is a list, not a tuple"],
    ["shape (2) without its comma", "{'descr': '<f8', 'fortran_order': False, 'shape': (2)}", "its shape is a int, not a tuple"],
    ["negative dimension", "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", "negative dimension (-2)"],
    ["non-integer dimension", "{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,)}", "not a Python dict literal"],
    ["string dimension", "{'descr': '<f8', 'fortran_order': False, 'shape': ('2',)}", "a str, not an integer"],
    ["huge dimension", "{'descr': '<f8', 'fortran_order': False, 'shape': (123456789012345678901234567890,)}", "impossibly large"],
    ["fortran_order not a bool", "{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", "not True or False"],
    ["descr not a string", "{'descr': 8, 'fortran_order': False, 'shape': (2,)}", "its descr is a int"],
    ["unknown descr", "{'descr': '<x8', 'fortran_order': False, 'shape': (2,)}", "`<x8` is not a numpy dtype"],
    ["descr without byte order", "{'descr': 'f8', 'fortran_order': False, 'shape': (2,)}", "`f8` is not a numpy dtype"],
    ["descr with a native byte order", "{'descr': '=f8', 'fortran_order': False, 'shape': (2,)}", "`=f8` is not a numpy dtype"],
    ["garbage descr", "{'descr': 'float64', 'fortran_order': False, 'shape': (2,)}", "`float64` is not a numpy dtype"],
  ])("rejects a bad header dict: %s", (_, dict, expected) => {
    const result = problem(parse(npyFile(dict, bytesOf("f64", [1, 2]))));
    expect(result.code).toBe("MHC6002");
    expect(`${result.message} ${result.notes.join(" ")}`).toContain(expected);
  });

  it("rejects a version 3.0 header that is not UTF-8, and reads a version 1.0 header as latin-1", () => {
    const v3 = concat(hex("934e554d5059 0300 02000000"), hex("7bff"));
    expect(problem(parse(v3))).toMatchObject({ code: "MHC6002", message: "`x.npy` is not a valid .npy file: its version 3.0 header is not valid UTF-8" });
    const v1 = npyFile("{'descr': '<f8\x80', 'fortran_order': False, 'shape': (2,)}", bytesOf("f64", [1, 2]));
    expect(problem(parse(v1)).message).toContain("`<f8\u0080` is not a numpy dtype");
  });

  it("explains a multi-byte descr without a byte order", () => {
    const result = problem(parse(npyFile(numpyDict("|f8", [2]), bytesOf("f64", [1, 2]))));
    expect(result.notes).toEqual(["a multi-byte dtype needs a byte order, `<` or `>`"]);
  });

  it("says where the dict stops parsing", () => {
    const result = problem(parse(npyFile("{'descr': '<f8', 'fortran_order': Flase, 'shape': (2,)}", bytesOf("f64", [1, 2]))));
    expect(result.notes[0]).toBe("at character 34 of the header: expected a value, found `Flase`");
  });

  it.each([
    ["<c16", "complex, 16 bytes"],
    ["<u2", "unsigned integer, 2 bytes"],
    ["<u8", "unsigned integer, 8 bytes"],
    ["<f16", "floating point, 16 bytes"],
    ["|O", "Python objects"],
    ["<U5", "unicode strings, 20 bytes"],
    ["|S3", "byte strings, 3 bytes"],
    ["<M8[ns]", "datetime, 8 bytes"],
    ["|V2", "raw bytes (void), 2 bytes"],
  ])("rejects the valid but unsupported dtype %s", (descr, what) => {
    const result = problem(parse(npyFile(numpyDict(descr, [1]), new Uint8Array(16))));
    expect(result).toMatchObject({ code: "MHC6004", message: `\`x.npy\`: arrays of dtype \`${descr}\` (${what}) are not supported` });
  });

  it("rejects structured arrays", () => {
    const dict = "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }";
    expect(problem(parse(npyFile(dict, new Uint8Array(8))))).toMatchObject({
      code: "MHC6004",
      message: "`x.npy`: structured arrays (a dtype with named fields) are not supported",
    });
  });

  it("rejects int64 values that float64 cannot hold exactly, naming the element", () => {
    const data = concat(bytesOf("i64", [1, 2, 3]), hex("0100000000002000"));
    const result = problem(parse(npyFile(numpyDict("<i8", [2, 2]), data)));
    expect(result).toMatchObject({ code: "MHC6004", message: "`x.npy`: its int64 element at index [1, 1] is too large to hold exactly as a float64" });
  });

  it("rejects bools other than 0 and 1", () => {
    expect(problem(parse(npyFile(numpyDict("|b1", [3]), hex("010002")))).message).toContain("bool element at index [2] is neither 0 nor 1");
  });
});

describe("writing .npy files", () => {
  const tmp = useTempDir();

  const cases: [NdDType, number[], number[]][] = [
    ["f64", [2, 3], [0, 1.5, -2, 1e300, -0, Number.MIN_VALUE]],
    ["f32", [3], [0.1, -3.5, 1e-45]],
    ["f16", [2, 2], [0.1, 65504, -1e-7, 2]],
    ["i64", [3], [-(2 ** 53) + 1, 2 ** 53 - 1, 0]],
    ["i32", [2], [-(2 ** 31), 2 ** 31 - 1]],
    ["i16", [2], [-32768, 32767]],
    ["i8", [2], [-128, 127]],
    ["u8", [2], [0, 255]],
    ["bool", [1, 3], [1, 0, 1]],
    ["f64", [], [42]],
    ["f32", [0], []],
    ["i32", [2, 0, 3], []],
  ];

  it.each(cases)("round-trips %s of shape %j", (dtype, shape, values) => {
    const array = makeNdArray(dtype, shape, values);
    const bytes = encodeNpy(array);
    const back = ok(parse(bytes));
    const expected = dtype === "f32" ? values.map(Math.fround) : dtype === "f16" ? values.map(roundToF16) : values;
    expect(back).toEqual({ dtype, shape, data: Float64Array.from(expected) });
    // The header ends in a newline and the data starts at a multiple of 64.
    const headerLength = new DataView(bytes.buffer).getUint16(8, true);
    expect((10 + headerLength) % 64).toBe(0);
    expect(bytes[10 + headerLength - 1]).toBe(0x0a);
  });

  it("writes numpy's header: descr, fortran_order False, shape, growth spaces", () => {
    const bytes = encodeNpy(makeNdArray("f32", [7, 5]));
    const text = new TextDecoder("latin1").decode(bytes.subarray(10, 10 + new DataView(bytes.buffer).getUint16(8, true)));
    expect(text).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(7, 5\), \} {20,}\n$/);
    expect(bytes).toEqual(npyFile(numpyDict("<f4", [7, 5]), new Uint8Array(140)));
    expect(encodeNpy(makeNdArray("bool", []))).toEqual(npyFile(numpyDict("|b1", []), hex("00")));
  });

  it("writes version 2.0 when the header does not fit a u16", () => {
    const shape = Array.from({ length: 25000 }, () => 1);
    const bytes = encodeNpy(makeNdArray("u8", shape, [9]));
    expect([bytes[6], bytes[7]]).toEqual([2, 0]);
    expect((12 + new DataView(bytes.buffer).getUint32(8, true)) % 64).toBe(0);
    expect(ok(parse(bytes))).toEqual({ dtype: "u8", shape, data: Float64Array.from([9]) });
  });

  it("rounds float32 with Math.fround and float16 to nearest even", () => {
    const back = ok(parse(encodeNpy(makeNdArray("f32", [2], [0.1, 1 + 2 ** -24]))));
    expect([...back.data]).toEqual([Math.fround(0.1), 1]);
    const half = ok(parse(encodeNpy(makeNdArray("f16", [3], [1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000]))));
    expect([...half.data]).toEqual([1, 1 + 2 ** -9, Infinity]);
  });

  it("refuses what cannot be written, as a bug in the caller", () => {
    expect(() => encodeNpy(makeNdArray("bf16", [1]))).toThrow(/bfloat16/);
    expect(() => encodeNpy(makeNdArray("i32", [2], [1, 1.5]))).toThrow(/value 1.5 at index \[1\] cannot be stored as int32/);
    expect(() => encodeNpy(makeNdArray("u8", [1], [256]))).toThrow(/uint8/);
    expect(() => encodeNpy(makeNdArray("bool", [1], [2]))).toThrow(/bool/);
    expect(() => encodeNpy(makeNdArray("i64", [1], [2 ** 53]))).toThrow(/int64/);
    expect(() => encodeNpy({ dtype: "f64", shape: [3], data: new Float64Array(2) })).toThrow(/3 elements, but 2 values/);
    expect(() => encodeNpy({ dtype: "f64", shape: [-1], data: new Float64Array(0) })).toThrow(/bad dimension/);
  });

  it("writes to disk and reads back; a missing file is MHC6001", () => {
    const path = join(tmp(), "a.npy");
    const array = makeNdArray("f64", [2, 2], [1, 2, 3, 4]);
    expect(writeNpy(path, array)).toEqual({ ok: true, bytes: 160 });
    expect(ok(readNpy(path))).toEqual(array);
    expect(readdirSync(tmp())).toEqual(["a.npy"]);
    const missing = readNpy(join(tmp(), "nope.npy"));
    expect(missing.ok ? "" : missing.diagnostic.message).toBe(`cannot read \`${join(tmp(), "nope.npy")}\`: no such file`);
    const dir = readNpy(tmp());
    expect(dir.ok ? "" : `${dir.diagnostic.code} ${dir.diagnostic.message}`).toContain("MHC6001");
  });

  it("replaces an existing file atomically, and on failure leaves the target and no temporary file", () => {
    const path = join(tmp(), "a.npy");
    writeFileSync(path, "old");
    expect(writeNpy(path, makeNdArray("f32", [1], [5])).ok).toBe(true);
    expect(ok(readNpy(path)).data[0]).toBe(5);
    // The target is a directory: the rename fails after the temporary file is written.
    const dirTarget = join(tmp(), "d.npy");
    writeFileSync(join(tmp(), "keep"), "x");
    mkdirSync(join(dirTarget, "inside"), { recursive: true });
    const failed = writeNpy(dirTarget, makeNdArray("f32", [1], [5]));
    expect(failed.ok).toBe(false);
    expect(readdirSync(tmp()).sort()).toEqual(["a.npy", "d.npy", "keep"]);
    expect(existsSync(join(dirTarget, "inside"))).toBe(true);
    // The directory does not exist: nothing is created.
    expect(writeNpy(join(tmp(), "no", "a.npy"), makeNdArray("f32", [1])).ok).toBe(false);
    expect(readFileSync(path).length).toBe(132);
  });
});

describe("the Python literal parser", () => {
  it("parses what repr writes and nothing else", () => {
    expect(parsePythonLiteral("{'a': (1, 2), 'b': [], 'c': None, 'd': 'x\\'y', \"e\": (), 'f': (3,)}  \n")).toEqual({
      ok: true,
      value: {
        kind: "dict",
        entries: [
          [{ kind: "str", value: "a" }, { kind: "tuple", items: [{ kind: "int", value: 1n }, { kind: "int", value: 2n }] }],
          [{ kind: "str", value: "b" }, { kind: "list", items: [] }],
          [{ kind: "str", value: "c" }, { kind: "None" }],
          [{ kind: "str", value: "d" }, { kind: "str", value: "x'y" }],
          [{ kind: "str", value: "e" }, { kind: "tuple", items: [] }],
          [{ kind: "str", value: "f" }, { kind: "tuple", items: [{ kind: "int", value: 3n }] }],
        ],
      },
    });
    for (const bad of ["", "{", "(1,,)", "(,)", "{'a' 1}", "01", "1.5", "0x10", "Truee", "'a' 'b'", "{'a': 1,,}", "'\\q'", "[" .repeat(100)]) {
      expect(parsePythonLiteral(bad).ok, bad).toBe(false);
    }
  });
});
