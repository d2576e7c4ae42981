export { type Span, span, joinSpans, spanAfter } from "./span.js";
export { SourceFile, type Position } from "./source-file.js";
export { SourceSet } from "./source-set.js";
