import * as tf from "@tensorflow/tfjs-core";
import { resolve } from "node:path";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import { makeNdArray } from "../../io/ndarray.js";
import { writeSafetensors } from "../../io/safetensors.js";
import { compileModel } from "../../train/model.js";
import { selectBackend, type BackendName } from "../../../runtime/tfjs/backend.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { checkOrReport, failWith } from "./common.js";

export interface InitOptions {
  readonly model?: string;
  readonly out?: string;
  readonly seed?: unknown;
  readonly backend?: string;
  readonly format?: string;
  readonly color?: boolean;
}

export const INIT_USAGE = "usage: mhc init FILE --model NAME --out W.safetensors [--seed S]";

/** An integer flag within [min, max]; a usage error otherwise. */
export function integerOption(name: string, raw: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`\`--${name} ${String(raw)}\`: expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ""}`);
  return value;
}

/**
 * `mhc init FILE --model NAME --out W.safetensors --seed S`: the model's initial
 * parameters (float32, the documented names, in the model module's order), the same
 * bytes for the same seed on every backend (the init is computed in JavaScript).
 */
export async function initCommand(file: string | undefined, options: InitOptions, io: CliIO): Promise<ExitCode> {
  if (!file) throw new UsageError(INIT_USAGE);
  if (!options.model) throw new UsageError(`\`mhc init\` needs \`--model\`; ${INIT_USAGE}`);
  if (!options.out) throw new UsageError(`\`mhc init\` needs \`--out\`; ${INIT_USAGE}`);
  const seed = integerOption("seed", options.seed, 0, 0, 2 ** 31);
  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  const model = checked.checked.models.get(options.model);
  if (!model) {
    const known = [...checked.checked.models.keys()];
    const help = didYouMean(options.model, known);
    return failWith([makeDiagnostic(Diag.BadSetting, undefined, ["--model " + options.model, `\`${file}\` declares no model of that name`], help ? { help } : { notes: [known.length > 0 ? `its models are ${known.map((k) => `\`${k}\``).join(", ")}` : "it declares no model"] })], file, io, options);
  }
  await selectBackend({ backend: (options.backend ?? "cpu") as BackendName, gradients: false });
  const compiled = await compileModel(checked, model, version());
  const params = compiled.module.initParameters(seed);
  const tensors = compiled.module.parameterSpecs.map((s) => {
    const t = params[s.name]!;
    return [s.name, makeNdArray("f32", [...t.shape], t.dataSync())] as const;
  });
  tf.dispose(Object.values(params));
  const path = resolve(io.cwd, options.out);
  const written = writeSafetensors(path, tensors, { format: "mhc-tfjs", model: model.name, seed: String(seed) });
  if (!written.ok) return failWith([makeDiagnostic(Diag.CannotWrite, undefined, [options.out, written.reason])], file, io, options);
  io.stderr.write(`wrote ${options.out}: ${tensors.length} tensors, ${compiled.parameterCount} parameters of \`${model.name}\` (seed ${seed})\n`);
  return ExitCode.Ok;
}
