import { Diag } from "../diagnostics/messages.js";

/** The catalogue entries for problems with a training corpus. */
export const TrainDiag = {
  /** {0} corpus path, {1} its size in bytes, {2} context, {3} the minimum size. */
  CorpusTooSmall: Diag.CorpusTooSmall,
  /** {0} corpus path, {1} byte offset. */
  CorpusNotUtf8: Diag.CorpusNotUtf8,
} as const;
