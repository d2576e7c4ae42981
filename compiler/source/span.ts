/**
 * A half-open range `[start, end)` of UTF-16 offsets in one source file.
 * Offsets (not line/column pairs) are what every phase stores: they are cheap to
 * compare and merge, and the line map turns them into positions only when a
 * diagnostic is rendered.
 */
export interface Span {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

export function span(file: string, start: number, end: number): Span {
  return { file, start, end };
}

/** The smallest span covering both `a` and `b` (which must be in one file). */
export function joinSpans(a: Span, b: Span): Span {
  return { file: a.file, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** A zero-width span at the end of `s`, for "expected X after here" messages. */
export function spanAfter(s: Span): Span {
  return { file: s.file, start: s.end, end: s.end };
}
