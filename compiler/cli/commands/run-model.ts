import * as tf from "@tensorflow/tfjs-core";
import { resolve } from "node:path";
import { makeDiagnostic, type Diagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { CheckResult } from "../../driver.js";
import { interpret } from "../../ir/interpret.js";
import { makeTensor, type Tensor } from "../../ir/tensor.js";
import { checkFinite, DTYPE_NAME, expectTensors, formatShape, makeNdArray, unravelIndex, type NdArray } from "../../io/ndarray.js";
import { readNpy, writeNpy } from "../../io/npy.js";
import { readSafetensors } from "../../io/safetensors.js";
import { buildModelGraph, oneHot } from "../../lower/model-graph.js";
import { modelParameterSpecs } from "../../lower/model-parameters.js";
import type { CheckedModel } from "../../sema/checked.js";
import { compileModel } from "../../train/model.js";
import { BACKEND_NAMES, BackendUnavailableError, selectBackend, type BackendName } from "../../../runtime/tfjs/backend.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { checkOrReport, failWith } from "./common.js";

export interface RunModelOptions {
  readonly model?: string;
  readonly weights?: string;
  readonly tokens?: string;
  readonly text?: unknown;
  readonly out?: string;
  readonly backend?: string;
  readonly reference?: boolean;
  readonly format?: string;
  readonly color?: boolean;
}

export const RUN_MODEL_USAGE = "mhc run FILE --model NAME --weights W.safetensors (--tokens TOKENS.npy | --text TEXT) --out LOGITS.npy [--backend wasm|cpu|tensorflow] [--reference]";

const INTEGER_DTYPES: ReadonlySet<NdArray["dtype"]> = new Set(["i64", "i32", "i16", "i8", "u8"]);

/** Token ids `[B, T]` and how to shape the logits (`[T, V]` for a `[T]` input). */
interface Tokens {
  readonly rows: number[][];
  readonly batched: boolean;
  /** What messages call the tokens (the file name, or `--text`). */
  readonly what: string;
}

/**
 * `mhc run FILE --model NAME --weights W.safetensors (--tokens T.npy | --text TEXT)
 * --out LOGITS.npy`: the logits of a model for token ids (an integer `.npy` of shape
 * `[T]` or `[B, T]`, or the UTF-8 bytes of `--text`), written as `.npy` of shape
 * `[T, vocab]` or `[B, T, vocab]`. By default the generated TensorFlow.js model runs on
 * the selected backend (float32 logits); `--reference` runs the model's IR on the
 * float64 interpreter instead (float64 logits). The weights must be exactly the model's
 * parameters (names and shapes of `mhc init`); the output is written atomically.
 * `argv` (the command line) lets `--text` keep number-like text as typed.
 */
export async function runModelCommand(file: string, options: RunModelOptions, io: CliIO, argv?: readonly string[]): Promise<ExitCode> {
  const text = textOption(options.text, argv);
  if (!options.weights) throw new UsageError(`\`mhc run --model\` needs \`--weights\`; usage: ${RUN_MODEL_USAGE}`);
  if (!options.out) throw new UsageError(`\`mhc run --model\` needs \`--out\`; usage: ${RUN_MODEL_USAGE}`);
  if ((options.tokens === undefined) === (text === undefined)) throw new UsageError(`\`mhc run --model\` needs one of \`--tokens\` and \`--text\`; usage: ${RUN_MODEL_USAGE}`);
  if (options.reference && options.backend !== undefined) throw new UsageError("`--reference` runs the float64 interpreter, so `--backend` has no effect; give one of them");
  const backend = options.backend ?? "auto";
  if (backend !== "auto" && !(BACKEND_NAMES as readonly string[]).includes(backend)) {
    throw new UsageError(`\`--backend ${backend}\`: expected ${BACKEND_NAMES.map((b) => `\`${b}\``).join(", ")}`);
  }
  const fail = (d: readonly Diagnostic[]) => failWith(d, file, io, options);

  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  const model = findModel(checked, file, options.model!);
  if ("code" in model) return fail([model]);

  const tokens = text !== undefined ? textTokens(text) : readTokens(options.tokens!, io);
  if ("code" in tokens) return fail([tokens]);
  const tokenProblem = checkTokens(tokens, model);
  if (tokenProblem) return fail([tokenProblem]);

  const weights = readSafetensors(resolve(io.cwd, options.weights));
  if (!weights.ok) return fail([weights.diagnostic]);
  const specs = modelParameterSpecs(model);
  const problems = expectTensors(options.weights, weights.value.tensors, specs);
  for (const spec of specs) {
    const t = weights.value.tensors.get(spec.name);
    const bad = t && checkFinite(t, `${options.weights}: ${spec.name}`);
    if (bad) problems.push(bad);
  }
  if (problems.length > 0) return fail(problems);
  const parameters = new Map(specs.map((s) => [s.name, weights.value.tensors.get(s.name)!] as const));

  const B = tokens.rows.length;
  const T = tokens.rows[0]!.length;
  let logits: NdArray;
  let how: string;
  if (options.reference) {
    const { graph } = buildModelGraph(checked.checked, model, { tokens: T, batch: B });
    const inputs: Record<string, Tensor> = { tokens: oneHot(tokens.rows.flat(), model.vocab) };
    for (const [name, t] of parameters) inputs[name] = makeTensor(t.shape, t.data);
    logits = makeNdArray("f64", [B, T, model.vocab], interpret(graph, inputs, { outputs: ["logits"] })["logits"]!.data);
    how = "the float64 reference interpreter";
  } else {
    let selected;
    try {
      selected = await selectBackend({ backend: backend as BackendName | "auto", gradients: false });
    } catch (error) {
      if (error instanceof BackendUnavailableError) throw new UsageError(error.message);
      throw error;
    }
    io.stderr.write(`backend: ${selected.name} (${selected.package})\n`);
    const compiled = await compileModel(checked, model, version());
    const params = Object.fromEntries([...parameters].map(([name, t]) => [name, tf.tensor(Float32Array.from(t.data), t.shape, "float32")]));
    const ids = tf.tensor2d(tokens.rows, [B, T], "int32");
    try {
      const out = compiled.module.forward(params, ids);
      logits = makeNdArray("f32", [B, T, model.vocab], out.dataSync());
      out.dispose();
    } finally {
      tf.dispose([ids, ...Object.values(params)]);
    }
    how = `TensorFlow.js on ${selected.name}`;
  }

  const bad = logits.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) return fail([makeDiagnostic(Diag.NonFiniteOutput, undefined, [model.name, Number.isNaN(logits.data[bad]!) ? "NaN" : "an infinity", formatShape(unravelIndex(bad, logits.shape))])]);
  if (!tokens.batched) logits = { ...logits, shape: [T, model.vocab] };
  const written = writeNpy(resolve(io.cwd, options.out), logits);
  if (!written.ok) return fail([makeDiagnostic(Diag.CannotWrite, undefined, [options.out, written.reason])]);
  io.stderr.write(`wrote ${options.out}: ${formatShape(logits.shape)} ${DTYPE_NAME[logits.dtype]} logits of \`${model.name}\` (${how})\n`);
  return ExitCode.Ok;
}

/**
 * `--text` exactly as typed. The option parser turns number-like values into numbers
 * ("007" would become 7), so the text is read from the command line itself when it is
 * at hand: the word after `--text`, or what follows `--text=`.
 */
function textOption(raw: unknown, argv: readonly string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const items = Array.isArray(raw) ? raw : [raw];
  if (items.length !== 1) throw new UsageError("`--text` is given more than once");
  const at = argv?.findIndex((a) => a === "--text" || a.startsWith("--text=")) ?? -1;
  if (at < 0) return String(items[0]);
  const arg = argv![at]!;
  return arg === "--text" ? (argv![at + 1] ?? "") : arg.slice("--text=".length);
}

function findModel(checked: CheckResult, file: string, name: string): CheckedModel | Diagnostic {
  const model = checked.checked.models.get(name);
  if (model) return model;
  const known = [...checked.checked.models.keys()];
  const help = didYouMean(name, known);
  return makeDiagnostic(Diag.BadSetting, undefined, [`--model ${name}`, `\`${file}\` declares no model of that name`], help ? { help } : { notes: [known.length > 0 ? `its models are ${known.map((k) => `\`${k}\``).join(", ")}` : "it declares no model"] });
}

/** The UTF-8 bytes of the text, one token per byte (the tokenizer of `mhc train`). */
function textTokens(text: string): Tokens | Diagnostic {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length === 0) return makeDiagnostic(Diag.InputShape, undefined, ["--text", "[0]", "[T] with T >= 1"], { notes: ["the text is empty"] });
  return { rows: [Array.from(bytes)], batched: false, what: "--text" };
}

function readTokens(path: string, io: CliIO): Tokens | Diagnostic {
  const read = readNpy(resolve(io.cwd, path));
  if (!read.ok) return read.diagnostic;
  const a = read.value;
  if (!INTEGER_DTYPES.has(a.dtype)) {
    return makeDiagnostic(Diag.TokensNotIntegers, undefined, [path, DTYPE_NAME[a.dtype]], { help: `save the ids as integers, e.g. \`np.save("${path}", ids.astype(np.int64))\`` });
  }
  const rank = a.shape.length;
  if (rank < 1 || rank > 2 || a.data.length === 0) {
    return makeDiagnostic(Diag.InputShape, undefined, [path, formatShape(a.shape), "[T] or [B, T] with T, B >= 1"]);
  }
  const T = a.shape[rank - 1]!;
  const B = rank === 2 ? a.shape[0]! : 1;
  const rows = Array.from({ length: B }, (_, b) => Array.from(a.data.subarray(b * T, (b + 1) * T)));
  return { rows, batched: rank === 2, what: path };
}

/** Every id within the vocabulary, and no longer than the context. */
function checkTokens(tokens: Tokens, model: CheckedModel): Diagnostic | undefined {
  const T = tokens.rows[0]!.length;
  if (T > model.context) return makeDiagnostic(Diag.SequenceTooLong, undefined, [tokens.what, T, model.context, model.name], { help: `pass at most the last ${model.context} tokens` });
  for (let b = 0; b < tokens.rows.length; b++) {
    const row = tokens.rows[b]!;
    for (let t = 0; t < T; t++) {
      const id = row[t]!;
      if (id < 0 || id >= model.vocab) {
        const at = formatShape(tokens.batched ? [b, t] : [t]);
        const notes = tokens.what === "--text" ? ["`--text` gives the UTF-8 bytes of the text as token ids (0 to 255)"] : [];
        return makeDiagnostic(Diag.TokenOutOfVocabulary, undefined, [id, at, tokens.what, model.name, model.vocab - 1], { notes });
      }
    }
  }
  return undefined;
}
