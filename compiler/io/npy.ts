import { makeDiagnostic, type DiagnosticExtras } from "../diagnostics/diagnostic.js";
import { Diag, type MessageDef } from "../diagnostics/messages.js";
import {
  assertNdArray,
  decodeElements,
  DTYPE_NAME,
  DTYPE_SIZE,
  encodeElements,
  formatShape,
  readInputFile,
  unravelIndex,
  writeFileAtomic,
  type IoResult,
  type NdArray,
  type NdDType,
  type WriteResult,
} from "./ndarray.js";

/**
 * numpy's `.npy` format (numpy/lib/format.py, "NEP 1"):
 *
 *   "\x93NUMPY" major minor  header-length  header  data
 *
 * The header length is a little-endian u16 in version 1.0 and a u32 in 2.0
 * and 3.0; the header is a Python dict literal (latin-1 in 1.0 and 2.0, UTF-8
 * in 3.0) with exactly the keys `descr`, `fortran_order` and `shape`,
 * followed by spaces and a newline. The data is `prod(shape)` elements of
 * `descr`, nothing after it.
 *
 * Reading accepts all three versions, either byte order, and Fortran-order
 * arrays, which are transposed to row-major (the order `NdArray` holds), so a
 * caller never sees the difference. The header dict is parsed by a small
 * strict parser of Python literals (never evaluated). Rejected, each with its
 * own message: structured, complex, string, object, datetime and unsigned
 * 16/32/64-bit dtypes (MHC6004), int64 values beyond 2^53 that float64 cannot
 * hold exactly (MHC6004), bools other than 0 and 1, and bytes after the data
 * (several arrays saved into one file; MHC6002).
 *
 * Writing produces the bytes `np.save` produces: version 1.0 (2.0 when the
 * header would not fit a u16), keys sorted, numpy's spare spaces for growing
 * the first axis, padded with spaces to a multiple of 64 bytes and ending in
 * `\n`; little-endian, `fortran_order: False`. bfloat16 has no numpy dtype
 * and cannot be written (a caller's bug: it throws).
 */

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const PREFIX_V1 = 10;
const PREFIX_V2 = 12;
const ARRAY_ALIGN = 64;
/** numpy leaves room for a first axis of this many digits (format.py's GROWTH_AXIS_MAX_DIGITS). */
const GROWTH_AXIS_MAX_DIGITS = 21;

/** The numpy descr each dtype is written with. */
const DESCR: Readonly<Record<Exclude<NdDType, "bf16">, string>> = {
  f64: "<f8",
  f32: "<f4",
  f16: "<f2",
  i64: "<i8",
  i32: "<i4",
  i16: "<i2",
  i8: "|i1",
  u8: "|u1",
  bool: "|b1",
};

/** Reads the `.npy` file at `path`. */
export function readNpy(path: string): IoResult<NdArray> {
  const bytes = readInputFile(path);
  return bytes.ok ? parseNpy(bytes.value, path) : bytes;
}

/** Parses the bytes of a `.npy` file; `file` names it in diagnostics. */
export function parseNpy(bytes: Uint8Array, file: string): IoResult<NdArray> {
  const fail = (def: MessageDef, detail: string, extras: DiagnosticExtras = {}): IoResult<never> => ({
    ok: false,
    diagnostic: makeDiagnostic(def, undefined, [file, detail], extras),
  });
  const notNpy = (detail: string, extras?: DiagnosticExtras) => fail(Diag.NotNpy, detail, extras);

  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) {
      return bytes.length === 0 ? notNpy("it is empty") : fail(Diag.TruncatedFile, `it ends after ${bytes.length} bytes, inside the .npy magic string`);
    }
    if (bytes[i] !== MAGIC[i]) {
      return notNpy("it does not start with the .npy magic string `\\x93NUMPY`", {
        notes: [`its first bytes are ${describeBytes(bytes.subarray(0, 8))}`],
        help: "write it with `numpy.save` (a `.npz` archive, text or pickle is not a .npy file)",
      });
    }
  }
  if (bytes.length < 8) return fail(Diag.TruncatedFile, "it ends inside the format version");
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (!(major >= 1 && major <= 3 && minor === 0)) {
    return fail(Diag.UnsupportedArray, `.npy format version ${major}.${minor} is not supported`, {
      notes: ["versions 1.0, 2.0 and 3.0 are supported"],
    });
  }
  const prefix = major === 1 ? PREFIX_V1 : PREFIX_V2;
  if (bytes.length < prefix) return fail(Diag.TruncatedFile, "it ends inside the header length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = prefix + headerLength;
  if (dataStart > bytes.length) {
    return fail(Diag.TruncatedFile, `its header is ${headerLength} bytes long, but the file has only ${bytes.length - prefix} bytes after the header length`);
  }

  // Node's "latin1" is ISO-8859-1 (TextDecoder's would be windows-1252).
  let headerText = Buffer.from(bytes.buffer, bytes.byteOffset + prefix, headerLength).toString("latin1");
  if (major === 3) {
    try {
      headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(prefix, dataStart));
    } catch {
      return notNpy("its version 3.0 header is not valid UTF-8");
    }
  }
  const parsed = parsePythonLiteral(headerText);
  if (!parsed.ok) {
    return notNpy("its header is not a Python dict literal", {
      notes: [`at character ${parsed.offset} of the header: ${parsed.message}`, `the header is ${quoteHeader(headerText)}`],
    });
  }
  const header = readHeader(parsed.value);
  if (typeof header === "string") return notNpy(header, { notes: [`the header is ${quoteHeader(headerText)}`] });

  if (header.descr === undefined) {
    return fail(Diag.UnsupportedArray, "structured arrays (a dtype with named fields) are not supported", {
      help: "save each field as its own array, for example `np.save('a.npy', x['a'])`",
    });
  }
  const dtype = parseDescr(header.descr);
  if (dtype.kind === "unknown") {
    return notNpy(`its descr \`${header.descr}\` is not a numpy dtype`, dtype.why !== undefined ? { notes: [dtype.why] } : {});
  }
  if (dtype.kind === "unsupported") {
    return fail(Diag.UnsupportedArray, `arrays of dtype \`${header.descr}\` (${dtype.what}) are not supported`, {
      notes: ["supported dtypes: float64, float32, float16, int64, int32, int16, int8, uint8 and bool"],
      help: "convert it first, for example `np.save(path, a.astype(np.float64))`",
    });
  }

  const shape = header.shape;
  const itemSize = DTYPE_SIZE[dtype.dtype];
  const available = bytes.length - dataStart;
  const needed = shape.reduce((n, dim) => n * BigInt(dim), BigInt(itemSize));
  if (needed > BigInt(available)) {
    return fail(Diag.TruncatedFile, `its ${DTYPE_NAME[dtype.dtype]} array of shape ${formatShape(shape)} needs ${needed} bytes of data, but it has ${available}`);
  }
  const count = Number(needed) / itemSize;
  if (Number(needed) < available) {
    return notNpy(`it has ${available - Number(needed)} bytes after the array's ${needed} bytes of data`, {
      notes: ["several arrays saved into one file, or a corrupted file?"],
      help: "save one array per file, or several into a `.npz` archive and extract the one needed",
    });
  }

  const values = new Float64Array(count);
  const bad = decodeElements(view, dataStart, dtype.dtype, count, dtype.littleEndian, values);
  const data = header.fortranOrder && shape.length > 1 ? fortranToRowMajor(values, shape) : values;
  if (bad >= 0) {
    const index = header.fortranOrder ? unravelFortran(bad, shape) : unravelIndex(bad, shape);
    return dtype.dtype === "bool"
      ? notNpy(`its bool element at index ${formatShape(index)} is neither 0 nor 1`)
      : fail(Diag.UnsupportedArray, `its int64 element at index ${formatShape(index)} is too large to hold exactly as a float64`, {
          notes: ["int64 values must lie within ±2^53 (9007199254740992)"],
        });
  }
  return { ok: true, value: { dtype: dtype.dtype, shape, data } };
}

/** The bytes `np.save` writes for `array`. Throws for an ill-formed array, bfloat16, or integers out of range. */
export function encodeNpy(array: NdArray): Uint8Array {
  assertNdArray(array);
  if (array.dtype === "bf16") throw new TypeError("numpy has no bfloat16 dtype; write bfloat16 arrays as float32 or to safetensors");
  const shape = array.shape;
  const shapeRepr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shapeRepr}, }`;
  if (shape.length > 0) header += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  // numpy's _wrap_header: the padding makes prefix + header + "\n" a multiple of 64 (a whole 64 when already aligned).
  let prefix = PREFIX_V1;
  let padding = ARRAY_ALIGN - ((prefix + header.length + 1) % ARRAY_ALIGN);
  if (header.length + padding + 1 > 0xffff) {
    prefix = PREFIX_V2;
    padding = ARRAY_ALIGN - ((prefix + header.length + 1) % ARRAY_ALIGN);
  }
  const headerLength = header.length + padding + 1;
  const itemSize = DTYPE_SIZE[array.dtype];
  const out = new Uint8Array(prefix + headerLength + array.data.length * itemSize);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = prefix === PREFIX_V1 ? 1 : 2;
  out[7] = 0;
  if (prefix === PREFIX_V1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  // The header is ASCII, so one byte per character.
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.fill(0x20, prefix + header.length, prefix + headerLength - 1);
  out[prefix + headerLength - 1] = 0x0a;
  encodeElements(view, prefix + headerLength, array);
  return out;
}

/** Writes `array` to `path` as `.npy`, atomically. Throws only for an ill-formed array (see `encodeNpy`). */
export function writeNpy(path: string, array: NdArray): WriteResult {
  return writeFileAtomic(path, encodeNpy(array));
}

// ---------------------------------------------------------------------------
// The header

interface NpyHeader {
  /** undefined for a structured dtype (a list of fields). */
  descr: string | undefined;
  fortranOrder: boolean;
  shape: number[];
}

/** The header's three keys, checked, or what is wrong with them. */
function readHeader(value: PyValue): NpyHeader | string {
  if (value.kind !== "dict") return `its header is a Python ${value.kind}, not a dict`;
  const keys = new Map<string, PyValue>();
  for (const [key, item] of value.entries) {
    if (key.kind !== "str") return `its header has a key that is not a string (a ${key.kind})`;
    if (keys.has(key.value)) return `its header has the key \`${key.value}\` twice`;
    keys.set(key.value, item);
  }
  for (const key of ["descr", "fortran_order", "shape"]) {
    if (!keys.has(key)) return `its header has no \`${key}\``;
  }
  const unexpected = [...keys.keys()].find((k) => k !== "descr" && k !== "fortran_order" && k !== "shape");
  if (unexpected !== undefined) return `its header has an unexpected key \`${unexpected}\``;
  const descr = keys.get("descr")!;
  const fortran = keys.get("fortran_order")!;
  const shape = keys.get("shape")!;
  if (descr.kind !== "str" && descr.kind !== "list") return `its descr is a ${descr.kind}, not a string`;
  if (fortran.kind !== "bool") return `its fortran_order is a ${fortran.kind}, not True or False`;
  if (shape.kind !== "tuple") return `its shape is a ${shape.kind}, not a tuple`;
  const dims: number[] = [];
  for (const item of shape.items) {
    if (item.kind !== "int") return `its shape has an element that is a ${item.kind}, not an integer`;
    if (item.value < 0n) return `its shape has a negative dimension (${item.value})`;
    if (item.value > BigInt(Number.MAX_SAFE_INTEGER)) return `its shape has an impossibly large dimension (${item.value})`;
    dims.push(Number(item.value));
  }
  return { descr: descr.kind === "str" ? descr.value : undefined, fortranOrder: fortran.value, shape: dims };
}

type ParsedDescr =
  | { kind: "ok"; dtype: NdDType; littleEndian: boolean }
  | { kind: "unsupported"; what: string }
  | { kind: "unknown"; why?: string };

const SUPPORTED: Readonly<Record<string, NdDType>> = {
  f8: "f64",
  f4: "f32",
  f2: "f16",
  i8: "i64",
  i4: "i32",
  i2: "i16",
  i1: "i8",
  u1: "u8",
  b1: "bool",
};

const KIND_WORDS: Readonly<Record<string, string>> = {
  b: "bool",
  i: "signed integer",
  u: "unsigned integer",
  f: "floating point",
  c: "complex",
  m: "timedelta",
  M: "datetime",
  O: "Python objects",
  S: "byte strings",
  a: "byte strings",
  U: "unicode strings",
  V: "raw bytes (void)",
};

function parseDescr(descr: string): ParsedDescr {
  const m = /^([<>|=]?)([a-zA-Z])(\d*)(\[\w+\])?$/.exec(descr);
  if (!m) return { kind: "unknown" };
  const [, order = "", kind = "", size = "", unit] = m;
  const words = KIND_WORDS[kind];
  if (words === undefined) return { kind: "unknown" };
  const dtype = unit === undefined ? SUPPORTED[kind + size] : undefined;
  if (dtype === undefined) {
    return { kind: "unsupported", what: size ? `${words}, ${Number(size) * (kind === "U" ? 4 : 1)} bytes` : words };
  }
  // "=" is the writer's native order; numpy itself always writes "<", ">" or "|".
  if (DTYPE_SIZE[dtype] > 1 && (order === "" || order === "=" || order === "|")) {
    return { kind: "unknown", why: "a multi-byte dtype needs a byte order, `<` or `>`" };
  }
  return { kind: "ok", dtype, littleEndian: order !== ">" };
}

/** Column-major values of `shape` in row-major order. */
function fortranToRowMajor(values: Float64Array, shape: readonly number[]): Float64Array {
  const rank = shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let axis = rank - 2; axis >= 0; axis--) strides[axis] = strides[axis + 1]! * shape[axis + 1]!;
  const out = new Float64Array(values.length);
  const index = new Array<number>(rank).fill(0);
  let target = 0;
  for (let k = 0; k < values.length; k++) {
    out[target] = values[k]!;
    // Advance the column-major counter: the first axis moves fastest.
    for (let axis = 0; axis < rank; axis++) {
      index[axis]! += 1;
      target += strides[axis]!;
      if (index[axis]! < shape[axis]!) break;
      target -= strides[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

function unravelFortran(flat: number, shape: readonly number[]): number[] {
  const index: number[] = [];
  let rest = flat;
  for (const dim of shape) {
    index.push(rest % dim);
    rest = Math.floor(rest / dim);
  }
  return index;
}

function describeBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ") || "none";
}

function quoteHeader(text: string): string {
  const trimmed = text.replace(/[ \n]+$/, "");
  const shown = trimmed.length > 200 ? `${trimmed.slice(0, 200)}...` : trimmed;
  return JSON.stringify(shown);
}

// ---------------------------------------------------------------------------
// Python literals: just what `repr` of a header dict produces (numpy reads it
// with `ast.literal_eval`). Strict: one value, surrounded only by whitespace.

export type PyValue =
  | { kind: "str"; value: string }
  | { kind: "int"; value: bigint }
  | { kind: "bool"; value: boolean }
  | { kind: "None" }
  | { kind: "tuple"; items: PyValue[] }
  | { kind: "list"; items: PyValue[] }
  | { kind: "dict"; entries: [PyValue, PyValue][] };

export type PyParse = { ok: true; value: PyValue } | { ok: false; message: string; offset: number };

class PySyntaxError {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

/** Parses one Python literal (string, int, True/False/None, tuple, list, dict); `offset` of an error is 0-based. */
export function parsePythonLiteral(text: string): PyParse {
  let pos = 0;
  const MAX_DEPTH = 32;

  const fail = (message: string, at = pos): never => {
    throw new PySyntaxError(message, at);
  };
  const skipSpace = (): void => {
    while (pos < text.length && (text[pos] === " " || text[pos] === "\t" || text[pos] === "\n" || text[pos] === "\r")) pos++;
  };
  const found = (): string => (pos < text.length ? `\`${text[pos]}\`` : "the end of the header");

  const value = (depth: number): PyValue => {
    if (depth > MAX_DEPTH) fail("literal nested too deeply");
    skipSpace();
    const c = text[pos];
    if (c === "{") return dict(depth);
    if (c === "(") return sequence(depth, ")");
    if (c === "[") return sequence(depth, "]");
    if (c === "'" || c === '"') return string();
    if (c === "u" && (text[pos + 1] === "'" || text[pos + 1] === '"')) {
      pos++;
      return string();
    }
    if (c !== undefined && /[-+0-9]/.test(c)) return integer();
    const word = /^[A-Za-z_]\w*/.exec(text.slice(pos, pos + 64))?.[0];
    if (word === "True" || word === "False") {
      pos += word.length;
      return { kind: "bool", value: word === "True" };
    }
    if (word === "None") {
      pos += 4;
      return { kind: "None" };
    }
    return fail(`expected a value, found ${word !== undefined ? `\`${word}\`` : found()}`);
  };

  const dict = (depth: number): PyValue => {
    pos++; // {
    const entries: [PyValue, PyValue][] = [];
    for (;;) {
      skipSpace();
      if (text[pos] === "}") break;
      const key = value(depth + 1);
      skipSpace();
      if (text[pos] !== ":") fail(`expected \`:\` after a dict key, found ${found()}`);
      pos++;
      entries.push([key, value(depth + 1)]);
      skipSpace();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] !== "}") fail(`expected \`,\` or \`}\` in a dict, found ${found()}`);
      break;
    }
    pos++; // }
    return { kind: "dict", entries };
  };

  const sequence = (depth: number, close: ")" | "]"): PyValue => {
    pos++;
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      skipSpace();
      if (text[pos] === close) break;
      items.push(value(depth + 1));
      skipSpace();
      if (text[pos] === ",") {
        sawComma = true;
        pos++;
        continue;
      }
      if (text[pos] !== close) fail(`expected \`,\` or \`${close}\`, found ${found()}`);
      break;
    }
    pos++;
    if (close === "]") return { kind: "list", items };
    // `(x)` is x in parentheses; a tuple of one needs its comma: `(x,)`.
    if (items.length === 1 && !sawComma) return items[0]!;
    return { kind: "tuple", items };
  };

  const string = (): PyValue => {
    const quote = text[pos]!;
    const start = pos;
    pos++;
    let out = "";
    for (;;) {
      const c = text[pos];
      if (c === undefined || c === "\n") return fail("unterminated string", start);
      pos++;
      if (c === quote) break;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = text[pos];
      pos++;
      const simple: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", "0": "\0" };
      if (e !== undefined && simple[e] !== undefined) out += simple[e];
      else if (e === "x" || e === "u") {
        const digits = e === "x" ? 2 : 4;
        const hex = text.slice(pos, pos + digits);
        if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) fail(`bad \\${e} escape`, pos - 2);
        out += String.fromCharCode(parseInt(hex, 16));
        pos += digits;
      } else fail(`unsupported escape \`\\${e ?? ""}\``, pos - 2);
    }
    return { kind: "str", value: out };
  };

  const integer = (): PyValue => {
    const m = /^([-+]?)(\d+)(L?)/.exec(text.slice(pos, pos + 64));
    if (!m) return fail(`expected a value, found ${found()}`);
    const [whole, sign, digits = ""] = m;
    if (digits.length > 1 && digits.startsWith("0")) fail(`integer \`${digits}\` has a leading zero`);
    const next = text[pos + whole.length];
    if (next !== undefined && /[\w.]/.test(next)) fail(`expected an integer, found \`${text.slice(pos, pos + whole.length + 1)}\``);
    pos += whole.length;
    const magnitude = BigInt(digits);
    return { kind: "int", value: sign === "-" ? -magnitude : magnitude };
  };

  try {
    const result = value(0);
    skipSpace();
    if (pos < text.length) fail(`unexpected ${found()} after the literal`);
    return { ok: true, value: result };
  } catch (error) {
    if (error instanceof PySyntaxError) return { ok: false, message: error.message, offset: error.offset };
    throw error;
  }
}
