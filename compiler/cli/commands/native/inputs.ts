import { Rng, streamSeed } from "../../../lab/sampling.js";
import { concreteShape, type ManifestEntryPoint, type RuntimeManifest } from "../../../../runtime/native/manifest.js";
import { decodeResidual, encodeResidual, type ResidualDType } from "../../../../runtime/native/host-data.js";

/** One named input: the values the device gets, and the same values exactly as float64. */
export interface InputArray {
  readonly shape: readonly number[];
  /** Host data in the device's element type. */
  readonly device: Float32Array | Uint16Array;
  /** The device's values, exactly, for the reference. */
  readonly exact: Float64Array;
}

/** An input argument the caller must provide: read by an entry point before any earlier one writes it. */
export interface InputSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elementType: ResidualDType;
  readonly parameter: boolean;
}

/** The inputs of `entries` run in order (`h_post` of `post` is written by `pre`, so it is no input). */
export function inputSpecs(manifest: RuntimeManifest, entries: readonly ManifestEntryPoint[], T: number, C: number, dtype: ResidualDType): InputSpec[] {
  const written = new Set<string>();
  const specs = new Map<string, InputSpec>();
  const parameters = new Set(manifest.parameters.map((p) => p.name));
  for (const entry of entries) {
    for (const arg of entry.args) {
      if (arg.shape === undefined) continue;
      if (arg.role === "input" && !written.has(arg.name) && !specs.has(arg.name)) {
        specs.set(arg.name, { name: arg.name, shape: concreteShape(arg.shape, T, C), elementType: arg.dtype === "residual" ? dtype : "f32", parameter: parameters.has(arg.name) });
      }
    }
    for (const arg of entry.args) if (arg.role === "output") written.add(arg.name);
  }
  return [...specs.values()];
}

/**
 * Seeded random inputs of one problem, in the distribution of the GPU
 * verification script: residual-like inputs (x, f) standard normal; phi normal
 * / sqrt(its rows: n C, or C per stream); alpha uniform in [0.3, 1) (large enough that the projection
 * matters); each bias its map's initial value plus normal noise of 0.3. Each
 * array comes from its own named stream of `seed`, so adding an input never
 * changes the others. Values are rounded to the element type the device holds
 * before the reference sees them, so both sides compute from identical numbers.
 */
export function randomInputs(manifest: RuntimeManifest, specs: readonly InputSpec[], C: number, seed: number): Map<string, InputArray> {
  const out = new Map<string, InputArray>();
  for (const spec of specs) {
    const rng = new Rng(streamSeed(seed, ...spec.shape, spec.elementType, spec.name));
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const values = spec.parameter ? parameterValues(manifest, spec.name, count, C, rng) : rng.gaussians(count);
    const device = encodeResidual(values, spec.elementType);
    out.set(spec.name, { shape: spec.shape, device, exact: decodeResidual(device) });
  }
  return out;
}

/** Random values of one parameter in the distribution described at `randomInputs`. */
export function parameterValues(manifest: RuntimeManifest, name: string, count: number, C: number, rng: Rng): Float64Array {
  if (name.startsWith("phi_")) {
    // 1 / sqrt(the values one logit sums over): n C for a flat projection, C for a per-stream one ([C, k/n]).
    const shape = manifest.parameters.find((p) => p.name === name)?.shape;
    const rows = shape !== undefined && shape.length > 0 ? (concreteShape(shape, 1, C)[0] ?? manifest.n * C) : manifest.n * C;
    const scale = 1 / Math.sqrt(rows);
    return rng.gaussians(count).map((v) => v * scale);
  }
  if (name === "alpha") return Float64Array.from({ length: count }, () => 0.3 + 0.7 * rng.uniform());
  const initial = manifest.initialBias[name.replace(/^bias_/, "")] ?? [];
  return Float64Array.from({ length: count }, (_, i) => (initial[i] ?? 0) + 0.3 * rng.gaussian());
}
