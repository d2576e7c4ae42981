import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";

/**
 * Byte-level builders for `.npy` and safetensors files, written the way numpy
 * and the reference safetensors implementation lay them out, so the readers
 * are tested against the formats rather than against our own writers.
 */

export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * A `.npy` file as numpy's `_wrap_header` builds it: magic, version, header
 * length (u16 for 1.0, u32 for 2.0 and 3.0), `dict` padded with spaces so
 * that the data starts at a multiple of 64 and a final newline, then `data`.
 * `pad: false` writes the header exactly as given (no padding, no newline).
 */
export function npyFile(dict: string, data: Uint8Array, options: { version?: 1 | 2 | 3; pad?: boolean } = {}): Uint8Array {
  const version = options.version ?? 1;
  const prefix = version === 1 ? 10 : 12;
  const encoded = version === 3 ? utf8(dict) : latin1(dict);
  const padding = options.pad === false ? 0 : 64 - ((prefix + encoded.length + 1) % 64);
  const header = options.pad === false ? encoded : concat(encoded, latin1(" ".repeat(padding) + "\n"));
  const head = new Uint8Array(prefix);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(head.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  return concat(head, header, data);
}

/** The dict numpy writes for an array (keys sorted, the growth-axis spaces included). */
export function numpyDict(descr: string, shape: readonly number[], fortran = false): string {
  const repr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${repr}, }`;
  const axis = shape.length === 0 ? undefined : fortran ? shape[shape.length - 1] : shape[0];
  return axis === undefined ? dict : dict + " ".repeat(21 - String(axis).length);
}

/** Little-endian bytes of `values` as `kind`. */
export function bytesOf(kind: "f64" | "f32" | "i64" | "i32" | "i16" | "u16", values: readonly number[], littleEndian = true): Uint8Array {
  const size = { f64: 8, f32: 4, i64: 8, i32: 4, i16: 2, u16: 2 }[kind];
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    const at = i * size;
    if (kind === "f64") view.setFloat64(at, v, littleEndian);
    else if (kind === "f32") view.setFloat32(at, v, littleEndian);
    else if (kind === "i64") view.setBigInt64(at, BigInt(v), littleEndian);
    else if (kind === "i32") view.setInt32(at, v, littleEndian);
    else if (kind === "i16") view.setInt16(at, v, littleEndian);
    else view.setUint16(at, v, littleEndian);
  });
  return out;
}

/**
 * A safetensors file: the 8-byte little-endian header length, `header` (a
 * JSON text, padded with spaces to a multiple of 8 as the reference does
 * unless `pad` is false), then `data`.
 */
export function safetensorsFile(header: string, data: Uint8Array, options: { pad?: boolean; declaredLength?: bigint } = {}): Uint8Array {
  let json = utf8(header);
  if (options.pad !== false) json = concat(json, latin1(" ".repeat((8 - (json.length % 8)) % 8)));
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, options.declaredLength ?? BigInt(json.length), true);
  return concat(head, json, data);
}

/** Call in a `describe`: a fresh temporary directory for each test, removed after it. */
export function useTempDir(): () => string {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "mhc-io-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return () => dir;
}
