import { makeDiagnostic, type DiagnosticExtras } from "../diagnostics/diagnostic.js";
import { Diag, type MessageDef } from "../diagnostics/messages.js";
import {
  assertNdArray,
  decodeElements,
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
 * The safetensors format (huggingface/safetensors, `safetensors/src/tensor.rs`):
 *
 *   N (u64, little-endian)  header (N bytes of UTF-8 JSON)  data buffer
 *
 * The header is a JSON object: `"__metadata__"` (optional) maps strings to
 * strings, every other key is a tensor `{ "dtype": "F32", "shape": [2, 3],
 * "data_offsets": [begin, end] }` with offsets relative to the data buffer.
 * Tensor data is row-major and little-endian.
 *
 * Reading checks what the reference implementation checks, and a little
 * more: N within the file (and at most 100 MB, the reference's limit); the
 * header valid UTF-8 JSON starting with `{`; no duplicate keys; each tensor
 * with exactly those three fields, a known dtype, a shape of non-negative
 * integers, and `end - begin` equal to its size; the tensors' data tiling the
 * buffer exactly (no overlap, no hole, nothing after the last one). A
 * well-formed file of a dtype this compiler does not handle (U16, F8_E4M3,
 * ...) is MHC6004, anything malformed MHC6005, a file whose data stops short
 * MHC6003. Tensors come back in the header's order (the order of their data
 * too, in every file written by this module or by the reference).
 *
 * Writing keeps the given order (data laid out in that order, no sorting),
 * puts `__metadata__` first and only when there is some, writes compact JSON
 * padded with spaces to a multiple of 8 bytes, as the reference does, and
 * replaces the target atomically.
 */

/** The reference implementation refuses headers above this size (MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_OF: Readonly<Record<string, NdDType>> = {
  F64: "f64",
  F32: "f32",
  F16: "f16",
  BF16: "bf16",
  I64: "i64",
  I32: "i32",
  I16: "i16",
  I8: "i8",
  U8: "u8",
  BOOL: "bool",
};

const NAME_OF: Readonly<Record<NdDType, string>> = {
  f64: "F64",
  f32: "F32",
  f16: "F16",
  bf16: "BF16",
  i64: "I64",
  i32: "I32",
  i16: "I16",
  i8: "I8",
  u8: "U8",
  bool: "BOOL",
};

/** Dtypes of the format that this compiler does not read. */
const UNSUPPORTED_DTYPES = new Set(["U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"]);

export interface SafetensorsFile {
  /** In the header's order. */
  tensors: Map<string, NdArray>;
  metadata: Record<string, string>;
}

/** Reads the safetensors file at `path`. */
export function readSafetensors(path: string): IoResult<SafetensorsFile> {
  const bytes = readInputFile(path);
  return bytes.ok ? parseSafetensors(bytes.value, path) : bytes;
}

interface Entry {
  name: string;
  dtype: NdDType;
  shape: number[];
  begin: number;
  end: number;
  order: number;
}

/** Parses the bytes of a safetensors file; `file` names it in diagnostics. */
export function parseSafetensors(bytes: Uint8Array, file: string): IoResult<SafetensorsFile> {
  const fail = (def: MessageDef, detail: string, extras: DiagnosticExtras = {}): IoResult<never> => ({
    ok: false,
    diagnostic: makeDiagnostic(def, undefined, [file, detail], extras),
  });
  const bad = (detail: string, extras?: DiagnosticExtras) => fail(Diag.NotSafetensors, detail, extras);

  if (bytes.length === 0) return bad("it is empty");
  if (bytes.length < 8) return bad(`it is ${bytes.length} bytes long, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    return bad(`its header length, ${declared} bytes, is above the limit of ${MAX_HEADER_BYTES}`, {
      notes: ["the first 8 bytes of a safetensors file are the header's length; these do not look like one"],
    });
  }
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    return fail(Diag.TruncatedFile, `its header is ${headerLength} bytes long, but only ${bytes.length - 8} bytes follow the header length`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return bad("its header is not valid UTF-8");
  }
  if (!text.startsWith("{")) {
    return bad("its header does not start with `{`", { notes: [`it starts with ${JSON.stringify(text.slice(0, 40))}`] });
  }
  const parsed = parseJson(text);
  if (!parsed.ok) return bad("its header is not valid JSON", { notes: [`at character ${parsed.offset} of the header: ${parsed.message}`] });
  const root = parsed.value;
  if (root.kind !== "object") return bad(`its header is a JSON ${root.kind}, not an object`);

  const entries: Entry[] = [];
  let metadata: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of root.entries) {
    if (seen.has(name)) return bad(`its header has the key \`${name}\` twice`);
    seen.add(name);
    if (name === "__metadata__") {
      if (value.kind === "null") continue;
      if (value.kind !== "object") return bad(`its \`__metadata__\` is a JSON ${value.kind}, not an object`);
      const pairs: [string, string][] = [];
      for (const [key, item] of value.entries) {
        if (item.kind !== "string") return bad(`its \`__metadata__\` entry \`${key}\` is a JSON ${item.kind}, not a string`);
        if (pairs.some(([k]) => k === key)) return bad(`its \`__metadata__\` has the key \`${key}\` twice`);
        pairs.push([key, item.value]);
      }
      // fromEntries defines own properties, so even a key `__proto__` is kept as data.
      metadata = Object.fromEntries(pairs);
      continue;
    }
    const entry = readEntry(name, value, entries.length);
    if (typeof entry === "string") return bad(`tensor \`${name}\` ${entry}`);
    if ("unsupported" in entry) {
      return fail(Diag.UnsupportedArray, `tensor \`${name}\` has dtype ${entry.unsupported}, which is not supported`, {
        notes: ["supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U8 and BOOL"],
        help: "convert the tensor before saving, for example to float32",
      });
    }
    entries.push(entry);
  }

  // Layout: sorted by offsets, the tensors must tile [0, buffer length).
  const bufferStart = 8 + headerLength;
  const bufferLength = bytes.length - bufferStart;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end || a.order - b.order);
  let tiled = 0;
  let last: Entry | undefined;
  let gap: IoResult<never> | undefined;
  for (const entry of sorted) {
    if (entry.begin < tiled && last !== undefined) {
      gap = bad(`the data of tensors \`${last.name}\` and \`${entry.name}\` overlap`, {
        notes: [`\`${last.name}\` has bytes ${range(last)} and \`${entry.name}\` bytes ${range(entry)} of the data buffer`],
      });
      break;
    }
    if (entry.begin > tiled) {
      gap = bad(`bytes ${tiled} to ${entry.begin} of its data buffer belong to no tensor`, {
        notes: [`the next tensor, \`${entry.name}\`, starts at byte ${entry.begin}; the tensors' data must follow each other without holes`],
      });
      break;
    }
    tiled = entry.end;
    last = entry;
  }
  const outside = sorted.find((e) => e.end > bufferLength);
  if (outside !== undefined && gap !== undefined) {
    return bad(`the data_offsets of tensor \`${outside.name}\` lie outside its ${bufferLength}-byte data buffer`, {
      notes: [`they are [${outside.begin}, ${outside.end}]`],
    });
  }
  if (outside !== undefined) {
    return fail(Diag.TruncatedFile, `its tensors need ${tiled} bytes of data, but it has ${bufferLength}`, {
      notes: [`tensor \`${outside.name}\` has bytes ${range(outside)} of the data buffer`],
    });
  }
  if (gap !== undefined) return gap;
  if (tiled < bufferLength) {
    return bad(`the last ${bufferLength - tiled} bytes of its data buffer belong to no tensor`, {
      notes: [`the tensors' data ends at byte ${tiled} of the ${bufferLength}-byte buffer`],
    });
  }

  const tensors = new Map<string, NdArray>();
  for (const entry of entries) {
    const data = new Float64Array((entry.end - entry.begin) / DTYPE_SIZE[entry.dtype]);
    const badIndex = decodeElements(view, bufferStart + entry.begin, entry.dtype, data.length, true, data);
    if (badIndex >= 0) {
      const index = formatShape(unravelIndex(badIndex, entry.shape));
      return entry.dtype === "bool"
        ? bad(`the bool element at index ${index} of tensor \`${entry.name}\` is neither 0 nor 1`)
        : fail(Diag.UnsupportedArray, `the int64 element at index ${index} of tensor \`${entry.name}\` is too large to hold exactly as a float64`, {
            notes: ["int64 values must lie within ±2^53 (9007199254740992)"],
          });
    }
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return { ok: true, value: { tensors, metadata } };
}

function range(entry: Entry): string {
  return `[${entry.begin}, ${entry.end})`;
}

/** One tensor's header entry, checked; a string says what is wrong (after "tensor `name` "). */
function readEntry(name: string, value: JsonValue, order: number): Entry | { unsupported: string } | string {
  if (value.kind !== "object") return `is described by a JSON ${value.kind}, not an object`;
  const fields = new Map<string, JsonValue>();
  for (const [key, item] of value.entries) {
    if (fields.has(key)) return `has the field \`${key}\` twice`;
    fields.set(key, item);
  }
  for (const key of ["dtype", "shape", "data_offsets"]) if (!fields.has(key)) return `has no \`${key}\``;
  const unexpected = [...fields.keys()].find((k) => k !== "dtype" && k !== "shape" && k !== "data_offsets");
  if (unexpected !== undefined) return `has an unexpected field \`${unexpected}\``;

  const dtypeValue = fields.get("dtype")!;
  if (dtypeValue.kind !== "string") return `has a dtype that is a JSON ${dtypeValue.kind}, not a string`;
  const dtype = DTYPE_OF[dtypeValue.value];
  if (dtype === undefined) {
    if (UNSUPPORTED_DTYPES.has(dtypeValue.value)) return { unsupported: dtypeValue.value };
    return `has an unknown dtype \`${dtypeValue.value}\``;
  }

  const shapeValue = fields.get("shape")!;
  if (shapeValue.kind !== "array") return `has a shape that is a JSON ${shapeValue.kind}, not an array`;
  const shape: number[] = [];
  for (const dim of shapeValue.items) {
    const n = nonNegativeInteger(dim);
    if (n === undefined) return `has a shape with an element that is not a non-negative integer (${describeJson(dim)})`;
    shape.push(n);
  }

  const offsetsValue = fields.get("data_offsets")!;
  if (offsetsValue.kind !== "array" || offsetsValue.items.length !== 2) return "has data_offsets that are not a pair [begin, end]";
  const [begin, end] = offsetsValue.items.map(nonNegativeInteger);
  if (begin === undefined || end === undefined) return "has data_offsets that are not non-negative integers";
  if (end < begin) return `has data_offsets [${begin}, ${end}] that end before they begin`;

  let needed = BigInt(DTYPE_SIZE[dtype]);
  for (const dim of shape) needed *= BigInt(dim);
  if (BigInt(end - begin) !== needed) {
    return `has ${end - begin} bytes of data (data_offsets [${begin}, ${end}]), but ${dtypeValue.value} of shape ${formatShape(shape)} needs ${needed}`;
  }
  return { name, dtype, shape, begin, end, order };
}

function nonNegativeInteger(value: JsonValue): number | undefined {
  if (value.kind !== "number" || !/^(0|[1-9]\d*)$/.test(value.raw)) return undefined;
  return Number.isSafeInteger(value.value) ? value.value : undefined;
}

function describeJson(value: JsonValue): string {
  return value.kind === "number" ? value.raw : value.kind === "string" ? JSON.stringify(value.value) : `a JSON ${value.kind}`;
}

// ---------------------------------------------------------------------------
// Writing

/**
 * The bytes of a safetensors file holding `tensors` in the given order, each
 * stored as its `dtype`, and `metadata` (string values only). Throws for an
 * ill-formed array, a duplicate or reserved name, or integers out of range.
 */
export function encodeSafetensors(
  tensors: Iterable<readonly [string, NdArray]>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const list = [...tensors];
  const names = new Set<string>();
  const parts: string[] = [];
  const metadataEntries = Object.entries(metadata);
  if (metadataEntries.length > 0) {
    for (const [key, value] of metadataEntries) {
      if (typeof value !== "string") throw new TypeError(`metadata \`${key}\` must be a string`);
    }
    parts.push(`"__metadata__":{${metadataEntries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`);
  }
  let offset = 0;
  for (const [name, array] of list) {
    if (name === "__metadata__") throw new RangeError("a tensor cannot be named `__metadata__`");
    if (names.has(name)) throw new RangeError(`two tensors are named \`${name}\``);
    names.add(name);
    assertNdArray(array);
    const size = array.data.length * DTYPE_SIZE[array.dtype];
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${NAME_OF[array.dtype]}","shape":[${array.shape.join(",")}],"data_offsets":[${offset},${offset + size}]}`,
    );
    offset += size;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, array] of list) {
    encodeElements(view, at, array);
    at += array.data.length * DTYPE_SIZE[array.dtype];
  }
  return out;
}

/** Writes a safetensors file atomically. Throws only for ill-formed input (see `encodeSafetensors`). */
export function writeSafetensors(
  path: string,
  tensors: Iterable<readonly [string, NdArray]>,
  metadata: Readonly<Record<string, string>> = {},
): WriteResult {
  return writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------
// JSON, strictly (RFC 8259), keeping the order of object keys and their
// duplicates, and the text of numbers (JSON.parse loses all three: it moves
// integer-like keys first and keeps the last of two equal keys).

export type JsonValue =
  | { kind: "object"; entries: [string, JsonValue][] }
  | { kind: "array"; items: JsonValue[] }
  | { kind: "string"; value: string }
  | { kind: "number"; raw: string; value: number }
  | { kind: "boolean"; value: boolean }
  | { kind: "null" };

export type JsonParse = { ok: true; value: JsonValue } | { ok: false; message: string; offset: number };

class JsonSyntaxError {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** Parses JSON text (whitespace allowed around the value); `offset` of an error is in UTF-16 units. */
export function parseJson(text: string): JsonParse {
  let pos = 0;
  const MAX_DEPTH = 64;
  const fail = (message: string, at = pos): never => {
    throw new JsonSyntaxError(message, at);
  };
  const found = (): string => (pos < text.length ? `\`${text[pos]}\`` : "the end of the header");
  const space = (): void => {
    while (pos < text.length && " \t\n\r".includes(text[pos]!)) pos++;
  };
  const string = (): string => {
    STRING.lastIndex = pos;
    const m = STRING.exec(text);
    if (!m) return fail("bad or unterminated string");
    pos += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const value = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail("nested too deeply");
    space();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const entries: [string, JsonValue][] = [];
      space();
      if (text[pos] === "}") {
        pos++;
        return { kind: "object", entries };
      }
      for (;;) {
        space();
        if (text[pos] !== '"') fail(`expected a string key, found ${found()}`);
        const key = string();
        space();
        if (text[pos] !== ":") fail(`expected \`:\`, found ${found()}`);
        pos++;
        entries.push([key, value(depth + 1)]);
        space();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] !== "}") fail(`expected \`,\` or \`}\`, found ${found()}`);
        pos++;
        return { kind: "object", entries };
      }
    }
    if (c === "[") {
      pos++;
      const items: JsonValue[] = [];
      space();
      if (text[pos] === "]") {
        pos++;
        return { kind: "array", items };
      }
      for (;;) {
        items.push(value(depth + 1));
        space();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] !== "]") fail(`expected \`,\` or \`]\`, found ${found()}`);
        pos++;
        return { kind: "array", items };
      }
    }
    if (c === '"') return { kind: "string", value: string() };
    for (const [word, result] of [
      ["true", { kind: "boolean", value: true }],
      ["false", { kind: "boolean", value: false }],
      ["null", { kind: "null" }],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return result;
      }
    }
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m) {
      pos += m[0].length;
      return { kind: "number", raw: m[0], value: Number(m[0]) };
    }
    return fail(`expected a value, found ${found()}`);
  };
  try {
    const result = value(0);
    space();
    if (pos < text.length) fail(`unexpected ${found()} after the value`);
    return { ok: true, value: result };
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { ok: false, message: error.message, offset: error.offset };
    throw error;
  }
}
