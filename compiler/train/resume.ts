import { makeDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import type { CheckpointState } from "./checkpoint.js";
import { TrainDiag } from "./diagnostics.js";

/** Options given on the command line that a resumed run must agree with (undefined: not given). */
export interface GivenRunOptions {
  readonly lr?: number;
  readonly batch?: number;
  readonly seed?: number;
}

/**
 * Why a run cannot continue `state` exactly (MHC6022), or undefined: an option given
 * with another value than the checkpoint's (the learning rate, batch size and seed decide
 * the updates and the data order), another corpus, or a model whose context or dropout
 * changed since. The number of steps, the eval and checkpoint intervals may change.
 */
export function resumeConflict(shown: string, state: CheckpointState, given: GivenRunOptions, now: { context: number; dropout: number; corpusDigest: string; corpusName: string }): Diagnostic | undefined {
  const mismatch = (detail: string, help: string) => makeDiagnostic(TrainDiag.CheckpointMismatch, undefined, [shown, detail], { help });
  const flags = [
    ["lr", given.lr, state.options.lr],
    ["batch", given.batch, state.options.batch],
    ["seed", given.seed, state.options.seed],
  ] as const;
  for (const [flag, value, saved] of flags) {
    if (value !== undefined && value !== saved) {
      return mismatch(`it was trained with \`--${flag} ${saved}\`, not ${value}`, `leave out \`--${flag}\` (a resumed run keeps the checkpoint's), or start a new run in another \`--out\``);
    }
  }
  if (state.corpus.sha256 !== now.corpusDigest) {
    return mismatch(`it was trained on another text (\`${state.corpus.path}\`, ${state.corpus.bytes} bytes) than \`${now.corpusName}\``, `resume with \`--data ${state.corpus.path}\``);
  }
  if (state.options.context !== now.context || state.options.dropout !== now.dropout) {
    return mismatch(`the model's context or dropout changed since (context ${state.options.context} -> ${now.context}, dropout ${state.options.dropout} -> ${now.dropout})`, "start a new run in another `--out`");
  }
  return undefined;
}
