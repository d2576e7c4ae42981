import { Diag } from "../diagnostics/messages.js";

/** The catalogue entries for problems with a training corpus, a checkpoint or a run. */
export const TrainDiag = {
  /** {0} corpus path, {1} its size in bytes, {2} context, {3} the minimum size. */
  CorpusTooSmall: Diag.CorpusTooSmall,
  /** {0} corpus path, {1} byte offset. */
  CorpusNotUtf8: Diag.CorpusNotUtf8,
  /** {0} model, {1} the last completed step. */
  TrainingInterrupted: Diag.TrainingInterrupted,
  /** {0} the checkpoint file, {1} what is wrong with it. */
  BadCheckpoint: Diag.BadCheckpoint,
  /** {0} the checkpoint directory, {1} why this run cannot continue it. */
  CheckpointMismatch: Diag.CheckpointMismatch,
  /** {0} model, {1} step, {2} what is not finite (the loss, a parameter). */
  TrainingDiverged: Diag.TrainingDiverged,
  /** {0} the directory. */
  NoCheckpoint: Diag.NoCheckpoint,
} as const;
