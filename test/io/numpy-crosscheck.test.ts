import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeNpy, readNpy, writeNpy } from "../../compiler/io/npy.js";
import { makeNdArray } from "../../compiler/io/ndarray.js";
import { readSafetensors, writeSafetensors } from "../../compiler/io/safetensors.js";
import { useTempDir } from "./fixtures.js";

/**
 * Cross-checks with the real numpy when this machine has it: numpy writes and
 * we read, we write and numpy reads. Everything else in test/io builds its
 * fixtures byte by byte and needs no Python.
 */
function python(script: string, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("python3", ["-c", script], { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
}

const probe = spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" });
const hasNumpy = probe.status === 0;
const reason = hasNumpy ? "" : "python3 with numpy is not available on this machine";

describe.skipIf(!hasNumpy)("cross-check with numpy", () => {
  const tmp = useTempDir();

  it("reads what numpy writes: every dtype, both byte orders, Fortran order, versions 1 to 3", () => {
    const script = `
import numpy as np
from numpy.lib import format as f
a = np.arange(24).reshape(2, 3, 4) - 5.25
cases = {
  "f8": a, "f4be": a.astype(">f4"), "f2": a.astype("<f2"), "i8": np.arange(6, dtype="<i8").reshape(3, 2) - 3,
  "i4be": np.arange(6, dtype=">i4"), "i2": np.array([-32768, 32767], dtype="<i2"), "i1": np.array([-128, 127], dtype="i1"),
  "u1": np.array([0, 255], dtype="u1"), "b1": np.array([[True, False], [False, True]]),
  "fortran": np.asfortranarray(a), "scalar": np.array(2.5), "empty": np.zeros((3, 0)),
}
for name, value in cases.items():
    np.save(name + ".npy", value)
with open("v2.npy", "wb") as fh: f.write_array(fh, a, version=(2, 0))
with open("v3.npy", "wb") as fh: f.write_array(fh, a, version=(3, 0))
`;
    const r = python(script, tmp());
    expect(r.stderr).toBe("");
    const base = Array.from({ length: 24 }, (_, i) => i - 5.25);
    const read = (name: string) => {
      const result = readNpy(join(tmp(), `${name}.npy`));
      if (!result.ok) throw new Error(result.diagnostic.message);
      return [result.value.dtype, result.value.shape, [...result.value.data]];
    };
    expect(read("f8")).toEqual(["f64", [2, 3, 4], base]);
    expect(read("f4be")).toEqual(["f32", [2, 3, 4], base]);
    expect(read("f2")).toEqual(["f16", [2, 3, 4], base]);
    expect(read("i8")).toEqual(["i64", [3, 2], [-3, -2, -1, 0, 1, 2]]);
    expect(read("i4be")).toEqual(["i32", [6], [0, 1, 2, 3, 4, 5]]);
    expect(read("i2")).toEqual(["i16", [2], [-32768, 32767]]);
    expect(read("i1")).toEqual(["i8", [2], [-128, 127]]);
    expect(read("u1")).toEqual(["u8", [2], [0, 255]]);
    expect(read("b1")).toEqual(["bool", [2, 2], [1, 0, 0, 1]]);
    expect(read("fortran")).toEqual(["f64", [2, 3, 4], base]);
    expect(read("scalar")).toEqual(["f64", [], [2.5]]);
    expect(read("empty")).toEqual(["f64", [3, 0], []]);
    expect(read("v2")).toEqual(["f64", [2, 3, 4], base]);
    expect(read("v3")).toEqual(["f64", [2, 3, 4], base]);
  });

  it("writes what numpy reads, byte-identical to np.save", () => {
    const arrays = {
      f64: makeNdArray("f64", [2, 3], [0.1, -2, 1e300, -0, 5e-324, 3]),
      f32: makeNdArray("f32", [3], [0.1, -3.5, 1e-45]),
      f16: makeNdArray("f16", [2, 1], [0.1, -65504]),
      i64: makeNdArray("i64", [2], [-(2 ** 53) + 1, 2 ** 53 - 1]),
      i32: makeNdArray("i32", [], [-7]),
      u8: makeNdArray("u8", [0], []),
      bool: makeNdArray("bool", [3], [1, 0, 1]),
    };
    for (const [name, array] of Object.entries(arrays)) expect(writeNpy(join(tmp(), `${name}.npy`), array).ok).toBe(true);
    const script = `
import json, numpy as np, io
out = {}
for name in ${JSON.stringify(Object.keys(arrays))}:
    a = np.load(name + ".npy")
    buf = io.BytesIO(); np.save(buf, a)
    out[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "values": [float(v) for v in a.ravel()],
                  "same_bytes": buf.getvalue() == open(name + ".npy", "rb").read()}
print(json.dumps(out))
`;
    const r = python(script, tmp());
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; values: number[]; same_bytes: boolean }>;
    const descr = { f64: "<f8", f32: "<f4", f16: "<f2", i64: "<i8", i32: "<i4", u8: "|u1", bool: "|b1" };
    for (const [name, array] of Object.entries(arrays)) {
      const got = out[name]!;
      expect(got.same_bytes, name).toBe(true);
      expect(got.dtype).toBe(descr[name as keyof typeof descr]);
      expect(got.shape).toEqual(array.shape);
      const back = readNpy(join(tmp(), `${name}.npy`));
      expect(back.ok && [...back.value.data]).toEqual(got.values.map((v) => (Object.is(v, -0) ? -0 : v)));
    }
    expect(encodeNpy(arrays.f64)).toEqual(new Uint8Array(readFileSync(join(tmp(), "f64.npy"))));
  });

  it("agrees with numpy's float16 rounding on many values", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 5000 }, () => (random() - 0.5) * 2 ** Math.floor(random() * 60 - 30));
    values.push(65519.99, 65520, 2 ** -25, 2 ** -25 + 2 ** -40, 1 + 2 ** -11, 1 + 3 * 2 ** -11);
    writeFileSync(join(tmp(), "v.f64"), new Float64Array(values));
    expect(writeNpy(join(tmp(), "ours.npy"), makeNdArray("f16", [values.length], values)).ok).toBe(true);
    const r = python(
      `import numpy as np, warnings
warnings.simplefilter("ignore")
v = np.fromfile("v.f64", dtype="<f8").astype(np.float16)
ours = np.load("ours.npy")
print(int(np.sum(v.view(np.uint16) != ours.view(np.uint16))))`,
      tmp(),
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("0");
  });

  it("safetensors: reads a file laid out by the reference's rules and writes one a plain JSON + numpy reader accepts", () => {
    // The reference's layout, built in Python: metadata first, tensors sorted by alignment then name, compact JSON padded to 8.
    const script = `
import json, struct, numpy as np
tensors = {"w": np.arange(6, dtype="<f4").reshape(2, 3), "b": np.array([1, -2], dtype="<i8"), "m": np.array([True, False])}
order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
header, data, offset = {"__metadata__": {"format": "np"}}, b"", 0
for k in order:
    raw = tensors[k].tobytes()
    header[k] = {"dtype": {"<f4": "F32", "<i8": "I64", "|b1": "BOOL"}[tensors[k].dtype.str], "shape": list(tensors[k].shape), "data_offsets": [offset, offset + len(raw)]}
    data += raw; offset += len(raw)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open("ref.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
`;
    expect(python(script, tmp()).stderr).toBe("");
    const ref = readSafetensors(join(tmp(), "ref.safetensors"));
    if (!ref.ok) throw new Error(ref.diagnostic.message);
    expect([...ref.value.tensors.keys()]).toEqual(["b", "w", "m"]);
    expect([...ref.value.tensors.get("w")!.data]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...ref.value.tensors.get("b")!.data]).toEqual([1, -2]);
    expect(ref.value.metadata).toEqual({ format: "np" });

    expect(writeSafetensors(join(tmp(), "ours.safetensors"), ref.value.tensors, { format: "mhc" }).ok).toBe(true);
    const check = python(
      `import json, struct, numpy as np
raw = open("ours.safetensors", "rb").read()
n, = struct.unpack("<Q", raw[:8]); assert n % 8 == 0
h = json.loads(raw[8:8 + n]); buf = raw[8 + n:]
out = {}
for k, v in h.items():
    if k == "__metadata__": out[k] = v; continue
    b, e = v["data_offsets"]
    a = np.frombuffer(buf[b:e], dtype={"F32": "<f4", "I64": "<i8", "BOOL": "?"}[v["dtype"]]).reshape(v["shape"])
    out[k] = [v["dtype"], list(a.shape), a.astype(float).ravel().tolist()]
print(json.dumps(out))`,
      tmp(),
    );
    expect(check.stderr).toBe("");
    expect(JSON.parse(check.stdout)).toEqual({
      __metadata__: { format: "mhc" },
      b: ["I64", [2], [1, -2]],
      w: ["F32", [2, 3], [0, 1, 2, 3, 4, 5]],
      m: ["BOOL", [2], [1, 0]],
    });
  });
});

if (!hasNumpy) {
  describe("cross-check with numpy", () => {
    it.skip(`skipped: ${reason}`, () => {});
  });
}
