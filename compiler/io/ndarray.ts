import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { makeDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { Diag } from "../diagnostics/messages.js";
import { closestName } from "../diagnostics/suggest.js";
import { bf16FromNumber, bf16ToNumber, f16FromNumber, f16ToNumber } from "./float16.js";

/**
 * The in-memory array of the file readers and writers (`.npy`, safetensors).
 * Values are always held as float64, the precision of the reference
 * interpreter; `dtype` records what the file had, or what a writer stores.
 * `data` is row-major (C order) and has exactly `elementCount(shape)` values.
 */
export type NdDType = "f64" | "f32" | "f16" | "bf16" | "i64" | "i32" | "i16" | "i8" | "u8" | "bool";

export interface NdArray {
  dtype: NdDType;
  shape: number[];
  data: Float64Array;
}

/** Every dtype, widest float first. */
export const ND_DTYPES: readonly NdDType[] = ["f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool"];

/** Bytes per element in a file. */
export const DTYPE_SIZE: Readonly<Record<NdDType, number>> = {
  f64: 8,
  f32: 4,
  f16: 2,
  bf16: 2,
  i64: 8,
  i32: 4,
  i16: 2,
  i8: 1,
  u8: 1,
  bool: 1,
};

/** Words for messages ("float32", numpy's spelling). */
export const DTYPE_NAME: Readonly<Record<NdDType, string>> = {
  f64: "float64",
  f32: "float32",
  f16: "float16",
  bf16: "bfloat16",
  i64: "int64",
  i32: "int32",
  i16: "int16",
  i8: "int8",
  u8: "uint8",
  bool: "bool",
};

/** What a reader gives back: never an exception for a bad file. */
export type IoResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly diagnostic: Diagnostic };

/** What a writer gives back: `reason` is the system's (for example `EACCES: permission denied`). */
export type WriteResult = { readonly ok: true; readonly bytes: number } | { readonly ok: false; readonly reason: string };

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/** `[3, 4]`, `[]` for a scalar: how shapes appear in messages. */
export function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * An array, checked: the shape's dimensions are non-negative safe integers and
 * `data` (zeros when omitted) has one value per element. Throws on a misuse,
 * which is a bug in the caller, not a bad input.
 */
export function makeNdArray(dtype: NdDType, shape: readonly number[], data?: ArrayLike<number>): NdArray {
  const count = shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0) ? elementCount(shape) : 0;
  const array = { dtype, shape: [...shape], data: data === undefined ? new Float64Array(count) : Float64Array.from(data) };
  assertNdArray(array);
  return array;
}

/** The multi-index (row-major) of flat index `flat` in `shape`. */
export function unravelIndex(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const dim = shape[axis]!;
    index[axis] = rest % dim;
    rest = Math.floor(rest / dim);
  }
  return index;
}

/**
 * MHC6007 when `array` holds NaN or an infinity, naming `what` (a file, or a
 * tensor of one) and the first bad element as a multi-index `[3, 1, 2]`;
 * undefined when every value is finite.
 */
export function checkFinite(array: NdArray, what: string): Diagnostic | undefined {
  const data = array.data;
  let first = -1;
  let bad = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      // NaN - NaN and Inf - Inf are both NaN; finite values give 0.
      if (first < 0) first = i;
      bad += 1;
    }
  }
  if (first < 0) return undefined;
  const value = data[first]!;
  const kind = Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
  const notes = [
    bad === 1
      ? `it is the only value of ${data.length} that is not finite`
      : `${bad} of its ${data.length} values are not finite; this is the first in row-major order`,
  ];
  if (array.shape.length === 0) notes.push("the array is a scalar, so its index is `[]`");
  return makeDiagnostic(Diag.NonFiniteInput, undefined, [what, kind, formatShape(unravelIndex(first, array.shape))], {
    notes,
    help: "inputs must be finite: find where the NaN or infinity came from, or replace it (numpy: `np.nan_to_num`)",
  });
}

/**
 * MHC6008 unless `array`'s shape matches `expected`. A number must match
 * exactly; a name (`"T"`, `"n"`) matches any size, the same size wherever the
 * name appears. `what` names the input (usually its path).
 */
export function expectShape(what: string, array: NdArray, expected: readonly (number | string)[]): Diagnostic | undefined {
  const shape = array.shape;
  const problem = shapeProblem(shape, expected);
  if (problem === undefined) return undefined;
  return makeDiagnostic(Diag.InputShape, undefined, [what, formatShape(shape), formatShape(expected)], { notes: [problem] });
}

function shapeProblem(shape: readonly number[], expected: readonly (number | string)[]): string | undefined {
  if (shape.length !== expected.length) {
    return `it has ${plural(shape.length, "dimension")}, expected ${expected.length}`;
  }
  const bound = new Map<string, { size: number; axis: number }>();
  for (let axis = 0; axis < expected.length; axis++) {
    const want = expected[axis]!;
    const have = shape[axis]!;
    if (typeof want === "number") {
      if (have !== want) return `dimension ${axis} is ${have}, expected ${want}`;
      continue;
    }
    const earlier = bound.get(want);
    if (earlier === undefined) bound.set(want, { size: have, axis });
    else if (earlier.size !== have) {
      return `\`${want}\` is ${earlier.size} in dimension ${earlier.axis} but ${have} in dimension ${axis}`;
    }
  }
  return undefined;
}

/** The expected name and shape of one tensor of a weights file. */
export interface ExpectedTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * Every problem with the tensors of weights file `file` against `expected`:
 * MHC6009 for each missing tensor, MHC6011 for each one with another shape
 * (both in `expected`'s order), then MHC6010 for each unexpected one (in the
 * file's order). Empty when they match.
 */
export function expectTensors(
  file: string,
  tensors: ReadonlyMap<string, NdArray>,
  expected: readonly ExpectedTensor[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const wanted = new Set(expected.map((e) => e.name));
  const extras = [...tensors.keys()].filter((name) => !wanted.has(name));
  for (const { name, shape } of expected) {
    const tensor = tensors.get(name);
    if (tensor === undefined) {
      const close = closestName(name, extras);
      out.push(
        makeDiagnostic(Diag.MissingTensor, undefined, [file, name], {
          notes: [`a tensor \`${name}\` of shape ${formatShape(shape)} is expected`],
          help: close !== undefined ? `the file has \`${close}\`; was it meant to be \`${name}\`?` : "write the weights with `mhc init`, which uses the documented names",
        }),
      );
      continue;
    }
    const problem = shapeProblem(tensor.shape, shape);
    if (problem !== undefined) {
      out.push(makeDiagnostic(Diag.TensorShape, undefined, [file, name, formatShape(tensor.shape), formatShape(shape)], { notes: [problem] }));
    }
  }
  const expectedNames = expected.map((e) => `\`${e.name}\``).join(", ");
  for (const name of extras) {
    const close = closestName(name, [...wanted].filter((w) => !tensors.has(w)));
    out.push(
      makeDiagnostic(Diag.ExtraTensor, undefined, [file, name], {
        notes: [expected.length === 0 ? "no tensors are expected" : `the expected tensors are ${expectedNames}`],
        help: close !== undefined ? `rename it to \`${close}\`` : "remove it from the file, or check that the file is for this connection",
      }),
    );
  }
  return out;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

// ---------------------------------------------------------------------------
// Element coding, shared by the two formats

/**
 * Decodes `count` elements of `dtype` at `offset` of `view` into `out`.
 * Returns the flat index of an int64 that float64 cannot hold exactly (its
 * magnitude is above 2^53), or -1.
 */
export function decodeElements(
  view: DataView,
  offset: number,
  dtype: NdDType,
  count: number,
  littleEndian: boolean,
  out: Float64Array,
): number {
  const le = littleEndian;
  switch (dtype) {
    case "f64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, le);
      return -1;
    case "f32":
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, le);
      return -1;
    case "f16": {
      const table = (f16Table ??= halfTable(f16ToNumber));
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(offset + 2 * i, le)]!;
      return -1;
    }
    case "bf16": {
      const table = (bf16Table ??= halfTable(bf16ToNumber));
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(offset + 2 * i, le)]!;
      return -1;
    }
    case "i64":
      for (let i = 0; i < count; i++) {
        const at = offset + 8 * i;
        const high = view.getInt32(at + (le ? 4 : 0), le);
        const low = view.getUint32(at + (le ? 0 : 4), le);
        // Exact (and in [-2^53, 2^53)) when -2^21 <= high < 2^21.
        if (high < -0x200000 || high >= 0x200000) return i;
        out[i] = high * 0x100000000 + low;
      }
      return -1;
    case "i32":
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, le);
      return -1;
    case "i16":
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, le);
      return -1;
    case "i8":
      for (let i = 0; i < count; i++) out[i] = view.getInt8(offset + i);
      return -1;
    case "u8":
      for (let i = 0; i < count; i++) out[i] = view.getUint8(offset + i);
      return -1;
    case "bool":
      for (let i = 0; i < count; i++) {
        const b = view.getUint8(offset + i);
        // numpy and torch only ever write 0 and 1; anything else is not a bool.
        if (b > 1) return i;
        out[i] = b;
      }
      return -1;
  }
}

/** The value of each of the 65536 bit patterns of a 16-bit float, built on first use. */
let f16Table: Float64Array | undefined;
let bf16Table: Float64Array | undefined;

function halfTable(decode: (bits: number) => number): Float64Array {
  const table = new Float64Array(0x10000);
  for (let bits = 0; bits < 0x10000; bits++) table[bits] = decode(bits);
  return table;
}

const INTEGER_RANGE: Readonly<Partial<Record<NdDType, readonly [number, number]>>> = {
  i64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  i32: [-(2 ** 31), 2 ** 31 - 1],
  i16: [-(2 ** 15), 2 ** 15 - 1],
  i8: [-128, 127],
  u8: [0, 255],
  bool: [0, 1],
};

/**
 * Encodes `array` (all its elements, as `array.dtype`) into `view` at
 * `offset`, little-endian. Floats are rounded to the dtype (`Math.fround`
 * for f32, round-to-nearest-even for f16 and bf16); integers and bools must
 * hold integral values in range, or this throws: choosing an integer dtype
 * for fractional data is a bug in the caller.
 */
export function encodeElements(view: DataView, offset: number, array: NdArray): void {
  const { dtype, data } = array;
  const count = data.length;
  const range = INTEGER_RANGE[dtype];
  if (range !== undefined) {
    for (let i = 0; i < count; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) {
        throw new RangeError(`value ${v} at index ${formatShape(unravelIndex(i, array.shape))} cannot be stored as ${DTYPE_NAME[dtype]}`);
      }
    }
  }
  switch (dtype) {
    case "f64":
      for (let i = 0; i < count; i++) view.setFloat64(offset + 8 * i, data[i]!, true);
      return;
    case "f32":
      // setFloat32 rounds as Math.fround does.
      for (let i = 0; i < count; i++) view.setFloat32(offset + 4 * i, data[i]!, true);
      return;
    case "f16":
      for (let i = 0; i < count; i++) view.setUint16(offset + 2 * i, f16FromNumber(data[i]!), true);
      return;
    case "bf16":
      for (let i = 0; i < count; i++) view.setUint16(offset + 2 * i, bf16FromNumber(data[i]!), true);
      return;
    case "i64":
      for (let i = 0; i < count; i++) view.setBigInt64(offset + 8 * i, BigInt(data[i]!), true);
      return;
    case "i32":
      for (let i = 0; i < count; i++) view.setInt32(offset + 4 * i, data[i]!, true);
      return;
    case "i16":
      for (let i = 0; i < count; i++) view.setInt16(offset + 2 * i, data[i]!, true);
      return;
    case "i8":
      for (let i = 0; i < count; i++) view.setInt8(offset + i, data[i]!);
      return;
    case "u8":
    case "bool":
      for (let i = 0; i < count; i++) view.setUint8(offset + i, data[i]!);
      return;
  }
}

/** Throws unless `array` is well formed (see `makeNdArray`); writers call it first. */
export function assertNdArray(array: NdArray): void {
  if (!ND_DTYPES.includes(array.dtype)) throw new TypeError(`unknown dtype ${String(array.dtype)}`);
  for (const dim of array.shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`bad dimension ${dim} in shape ${formatShape(array.shape)}`);
  }
  const count = elementCount(array.shape);
  if (!(array.data instanceof Float64Array) || array.data.length !== count) {
    throw new RangeError(`shape ${formatShape(array.shape)} has ${count} elements, but ${array.data.length} values were given`);
  }
}

// ---------------------------------------------------------------------------
// Files

/** Reads a whole input file; MHC6001 (naming `path` and the reason) when it cannot. */
export function readInputFile(path: string): IoResult<Uint8Array> {
  try {
    if (statSync(path).isDirectory()) return notReadable(path, "it is a directory");
    return { ok: true, value: readFileSync(path) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return notReadable(path, code === "ENOENT" || code === "ENOTDIR" ? "no such file" : describeError(error));
  }
}

function notReadable(path: string, reason: string): IoResult<never> {
  return { ok: false, diagnostic: makeDiagnostic(Diag.InputNotFound, undefined, [path, reason]) };
}

export function describeError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e instanceof Error && e.code) return `${e.code}: ${e.message.replace(/^[A-Z_]+: /, "")}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Writes `bytes` to `path` atomically: into a temporary file next to it (same
 * directory, so the rename cannot cross file systems), flushed, then renamed
 * over `path`. Readers see the old file or the whole new one, never part of
 * it; on failure the temporary file is removed and `path` is untouched.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array): WriteResult {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(temp, "wx", 0o644);
    created = true;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
    return { ok: true, bytes: bytes.length };
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    if (created) {
      try {
        unlinkSync(temp);
      } catch {
        // already gone (renamed just before failing)
      }
    }
    return { ok: false, reason: describeError(error) };
  }
}
