import { existsSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { makeDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { checkFinite, expectTensors, makeNdArray, readInputFile, writeFileAtomic, type ExpectedTensor } from "../io/ndarray.js";
import { encodeSafetensors, parseSafetensors } from "../io/safetensors.js";
import type { AdamState } from "./adam.js";
import { TrainDiag } from "./diagnostics.js";

/*
 * Training checkpoints, in the run's directory:
 *
 *   checkpoint-000050.safetensors  the parameters, with the model's documented names
 *                                  (a weights file like `mhc init` writes)
 *   optimizer-000050.safetensors   Adam's moments: `adam.m.<name>`, `adam.v.<name>`
 *   checkpoint.json                the step, Adam's update count, the data-order RNG
 *                                  state, the options, the corpus and the history;
 *                                  it names the two files above
 *
 * The tensor files carry the step in their names and are written first, each
 * atomically (temporary file, fsync, rename); `checkpoint.json` is written last, also
 * atomically. Until that rename the old `checkpoint.json` names the old files, which
 * are untouched, so a failed or interrupted write never damages the last good
 * checkpoint. Files of older steps are removed only after the new JSON is in place.
 */

export const CHECKPOINT_FILE = "checkpoint.json";
export const CHECKPOINT_FORMAT = "mhc-train-checkpoint";
export const CHECKPOINT_FORMAT_VERSION = 2;

/** The training options a run is given (and a checkpoint records). */
export interface StepOptions {
  /** The step to stop after (a resumed run continues up to it). */
  readonly steps: number;
  readonly lr: number;
  readonly batch: number;
  readonly seed: number;
  /** Eval loss every this many steps (and after the last); 0: only at the end. */
  readonly evalEvery: number;
  /** Eval windows (each context + 1 bytes from the held-out tail). */
  readonly evalWindows: number;
  /** Checkpoint every this many steps (and after the last) when an out dir is set; 0: only at the end. */
  readonly checkpointEvery: number;
}

/** The options that decide what a run computes (a resumed run keeps them): the given ones and the model's. */
export interface RunOptions extends StepOptions {
  readonly context: number;
  readonly dropout: number;
}

export interface HistoryRecord {
  readonly step: number;
  readonly loss: number;
  readonly evalLoss?: number;
  readonly stepMs: number;
  readonly tokensPerSecond: number;
  readonly elapsedMs: number;
}

/** What `checkpoint.json` holds. */
export interface CheckpointState {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly formatVersion: typeof CHECKPOINT_FORMAT_VERSION;
  readonly model: string;
  /** The last completed step. */
  readonly step: number;
  readonly files: { readonly parameters: string; readonly optimizer: string };
  readonly adam: { readonly step: number; readonly lr: number; readonly beta1: number; readonly beta2: number; readonly epsilon: number };
  readonly dataOrder: { readonly generator: "mulberry32"; readonly state: number };
  readonly options: RunOptions;
  readonly corpus: { readonly path: string; readonly bytes: number; readonly sha256: string };
  /** Training time of the steps so far (all sessions). */
  readonly elapsedMs: number;
  readonly history: readonly HistoryRecord[];
}

/** A checkpoint in memory: the state and the tensors, in the model's parameter order. */
export interface Checkpoint {
  readonly state: CheckpointState;
  readonly parameters: readonly Float32Array[];
  readonly adam: AdamState;
}

export interface ParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

const stepName = (kind: "checkpoint" | "optimizer", step: number) => `${kind}-${String(step).padStart(6, "0")}.safetensors`;
const STEP_FILE = /^(checkpoint|optimizer)-\d+\.safetensors$/;

export const momentName = (which: "m" | "v", parameter: string): string => `adam.${which}.${parameter}`;

/**
 * Writes a checkpoint into `dir` (see the module comment for the order). Returns the
 * reason when a write fails; the previous checkpoint is then still the valid one.
 */
export function writeCheckpoint(dir: string, specs: readonly ParameterSpec[], checkpoint: Omit<Checkpoint, "state"> & { state: Omit<CheckpointState, "files"> }): { ok: true } | { ok: false; path: string; reason: string } {
  const { state } = checkpoint;
  const files = { parameters: stepName("checkpoint", state.step), optimizer: stepName("optimizer", state.step) };
  const meta = { model: state.model, step: String(state.step) };
  const parameters = encodeSafetensors(
    specs.map((s, i) => [s.name, makeNdArray("f32", s.shape, checkpoint.parameters[i]!)] as const),
    { format: "mhc-tfjs", ...meta },
  );
  const optimizer = encodeSafetensors(
    (["m", "v"] as const).flatMap((which) => specs.map((s, i) => [momentName(which, s.name), makeNdArray("f32", s.shape, checkpoint.adam[which][i]!)] as const)),
    { format: "mhc-adam", ...meta, adamStep: String(checkpoint.adam.step) },
  );
  const json = new TextEncoder().encode(JSON.stringify({ ...state, files }, null, 2) + "\n");
  for (const [name, bytes] of [[files.parameters, parameters], [files.optimizer, optimizer], [CHECKPOINT_FILE, json]] as const) {
    const written = writeFileAtomic(join(dir, name), bytes);
    if (!written.ok) return { ok: false, path: join(dir, name), reason: written.reason };
  }
  // Only now are the older steps' files unreferenced.
  for (const entry of readdirSync(dir)) {
    if (STEP_FILE.test(entry) && entry !== files.parameters && entry !== files.optimizer) {
      try {
        unlinkSync(join(dir, entry));
      } catch {
        // a stale file left behind costs disk space, not correctness
      }
    }
  }
  return { ok: true };
}

type Read<T> = { ok: true; value: T } | { ok: false; diagnostics: Diagnostic[] };

const bad = (file: string, detail: string, help?: string): Read<never> => ({ ok: false, diagnostics: [makeDiagnostic(TrainDiag.BadCheckpoint, undefined, [file, detail], help ? { help } : {})] });

/**
 * Float32 tensors of a safetensors file in the order of `expected`, checked:
 * MHC6001/6003/6005 for an unreadable file, MHC6009/6010/6011 for missing, extra or
 * mis-shaped tensors, MHC6007 for NaN or infinite values.
 */
export function readTensors(path: string, shown: string, expected: readonly ExpectedTensor[]): Read<{ tensors: Float32Array[]; metadata: Record<string, string> }> {
  const bytes = readInputFile(path);
  if (!bytes.ok) return { ok: false, diagnostics: [{ ...bytes.diagnostic, message: bytes.diagnostic.message.split(path).join(shown) }] };
  const file = parseSafetensors(bytes.value, shown);
  if (!file.ok) return { ok: false, diagnostics: [file.diagnostic] };
  const problems = expectTensors(shown, file.value.tensors, expected);
  if (problems.length > 0) return { ok: false, diagnostics: problems };
  const tensors: Float32Array[] = [];
  for (const { name } of expected) {
    const array = file.value.tensors.get(name)!;
    const nonFinite = checkFinite(array, `tensor \`${name}\` of \`${shown}\``);
    if (nonFinite) return { ok: false, diagnostics: [nonFinite] };
    tensors.push(Float32Array.from(array.data));
  }
  return { ok: true, value: { tensors, metadata: file.value.metadata } };
}

/** A model's parameters from a weights file (`mhc init`'s output, or a checkpoint's parameter file). */
export function readParameters(path: string, shown: string, specs: readonly ParameterSpec[]): Read<Float32Array[]> {
  const read = readTensors(path, shown, specs);
  return read.ok ? { ok: true, value: read.value.tensors } : read;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The first field of `obj` (dotted paths) that is not a finite number, or undefined. */
function missingNumber(obj: Record<string, unknown>, paths: readonly string[]): string | undefined {
  for (const path of paths) {
    let v: unknown = obj;
    for (const key of path.split(".")) v = isObject(v) ? v[key] : undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) return path;
  }
  return undefined;
}

const NUMBER_FIELDS = [
  "step",
  "adam.step",
  "adam.lr",
  "adam.beta1",
  "adam.beta2",
  "adam.epsilon",
  "dataOrder.state",
  "options.steps",
  "options.lr",
  "options.batch",
  "options.seed",
  "options.evalEvery",
  "options.evalWindows",
  "options.checkpointEvery",
  "options.context",
  "options.dropout",
  "corpus.bytes",
  "elapsedMs",
];

/** Whether `dir` has a checkpoint to resume (its `checkpoint.json`). */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, CHECKPOINT_FILE));
}

/**
 * Reads and checks the checkpoint in `dir` (`shown`: how messages name it) for a model
 * with these parameters: MHC6024 when there is none, MHC6021 when `checkpoint.json` is
 * not a checkpoint or does not agree with its tensor files, MHC6022 when it belongs to
 * another model, and the tensor files' own codes (see `readTensors`).
 */
export function readCheckpoint(dir: string, shown: string, model: string, specs: readonly ParameterSpec[]): Read<Checkpoint> {
  const jsonPath = join(dir, CHECKPOINT_FILE);
  const jsonShown = join(shown, CHECKPOINT_FILE);
  if (!existsSync(jsonPath)) {
    return { ok: false, diagnostics: [makeDiagnostic(TrainDiag.NoCheckpoint, undefined, [shown], { notes: [`a checkpoint is a \`${CHECKPOINT_FILE}\` and the tensor files it names, written by \`mhc train --out ${shown}\``], help: "leave out `--resume` to start a new run" })] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch (error) {
    return bad(jsonShown, `it is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isObject(parsed) || parsed["format"] !== CHECKPOINT_FORMAT) return bad(jsonShown, `its \`format\` is not \`${CHECKPOINT_FORMAT}\``);
  if (parsed["formatVersion"] !== CHECKPOINT_FORMAT_VERSION) {
    return bad(jsonShown, `it has format version ${JSON.stringify(parsed["formatVersion"])}, and this mhc reads version ${CHECKPOINT_FORMAT_VERSION}`, "start a new run (leave out `--resume`)");
  }
  const missing = missingNumber(parsed, NUMBER_FIELDS);
  if (missing) return bad(jsonShown, `the field \`${missing}\` is missing or not a number`);
  const files = parsed["files"];
  if (!isObject(files) || typeof files["parameters"] !== "string" || typeof files["optimizer"] !== "string" || !STEP_FILE.test(files["parameters"]) || !STEP_FILE.test(files["optimizer"])) {
    return bad(jsonShown, "the field `files` does not name its parameter and optimizer files");
  }
  if (typeof parsed["model"] !== "string" || !Array.isArray(parsed["history"]) || !isObject(parsed["corpus"]) || typeof parsed["corpus"]["sha256"] !== "string") {
    return bad(jsonShown, "the fields `model`, `history` or `corpus` are missing");
  }
  const state = parsed as unknown as CheckpointState;
  if (state.model !== model) {
    return { ok: false, diagnostics: [makeDiagnostic(TrainDiag.CheckpointMismatch, undefined, [shown, `it is a checkpoint of model \`${state.model}\`, not \`${model}\``], { help: `resume it with \`--model ${state.model}\`, or train \`${model}\` into another \`--out\`` })] };
  }
  if (!Number.isInteger(state.dataOrder.state) || state.dataOrder.state < 0 || state.dataOrder.state > 0xffffffff || !Number.isInteger(state.step) || state.step < 0 || state.adam.step !== state.step) {
    return bad(jsonShown, "its step, Adam's update count or the data-order state is out of range");
  }

  const parameters = readTensors(join(dir, state.files.parameters), join(shown, state.files.parameters), specs);
  if (!parameters.ok) return parameters;
  const momentSpecs = (["m", "v"] as const).flatMap((which) => specs.map((s) => ({ name: momentName(which, s.name), shape: s.shape })));
  const optimizer = readTensors(join(dir, state.files.optimizer), join(shown, state.files.optimizer), momentSpecs);
  if (!optimizer.ok) return optimizer;
  for (const [file, metadata] of [[state.files.parameters, parameters.value.metadata], [state.files.optimizer, optimizer.value.metadata]] as const) {
    if (metadata["step"] !== String(state.step) || metadata["model"] !== state.model) {
      return bad(jsonShown, `it names step ${state.step} of \`${state.model}\`, but \`${file}\` holds step ${metadata["step"] ?? "(none)"} of \`${metadata["model"] ?? "(none)"}\``);
    }
  }
  const moments = optimizer.value.tensors;
  return {
    ok: true,
    value: { state, parameters: parameters.value.tensors, adam: { step: state.adam.step, m: moments.slice(0, specs.length), v: moments.slice(specs.length) } },
  };
}
