import { readFileSync, statSync } from "node:fs";

/** `.mhc` files are small; anything larger is almost certainly the wrong file. */
export const MAX_SOURCE_BYTES = 4 * 1024 * 1024;

export type ReadResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly reason: "not-found" | "directory" | "unreadable"; readonly detail: string }
  | { readonly ok: false; readonly reason: "too-large"; readonly size: number }
  | {
      readonly ok: false;
      readonly reason: "binary" | "not-utf8";
      /** Byte offset of the first offending byte. */
      readonly offset: number;
      /** The file decoded with replacement characters, to show where the problem is. */
      readonly lossyText: string;
      /** `offset` as a UTF-16 offset into `lossyText`. */
      readonly textOffset: number;
    };

/**
 * Reads a source file as UTF-8, refusing what cannot be a `.mhc` file: a
 * directory, more than `MAX_SOURCE_BYTES`, a NUL byte, invalid UTF-8. A leading
 * byte-order mark is dropped.
 */
export function readSource(path: string): ReadResult {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) return { ok: false, reason: "directory", detail: "it is a directory" };
    size = stat.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR"
      ? { ok: false, reason: "not-found", detail: "no such file" }
      : { ok: false, reason: "unreadable", detail: describeError(error) };
  }
  if (size > MAX_SOURCE_BYTES) return { ok: false, reason: "too-large", size };
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    return { ok: false, reason: "unreadable", detail: describeError(error) };
  }
  return decodeSource(bytes);
}

export function decodeSource(bytes: Uint8Array): ReadResult {
  const lossy = (offset: number) => {
    const decoder = new TextDecoder("utf-8", { fatal: false });
    return { offset, lossyText: decoder.decode(bytes), textOffset: decoder.decode(bytes.subarray(0, offset)).length };
  };
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { ok: false, reason: "binary", ...lossy(nul) };
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    return { ok: true, text };
  } catch {
    return { ok: false, reason: "not-utf8", ...lossy(firstInvalidUtf8(bytes)) };
  }
}

/** Offset of the first byte that starts an invalid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const length = b < 0x80 ? 1 : b >> 5 === 0b110 ? 2 : b >> 4 === 0b1110 ? 3 : b >> 3 === 0b11110 ? 4 : 0;
    if (length === 0) return i;
    for (let j = 1; j < length; j++) if (((bytes[i + j] ?? 0) & 0xc0) !== 0x80) return i;
    i += length;
  }
  return 0;
}

export function formatBytes(size: number): string {
  if (size >= 1024 * 1024) return `${(size / (1024 * 1024)).toFixed(1)} MiB`;
  if (size >= 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${size} bytes`;
}

function describeError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, "")}` : String(error);
}
