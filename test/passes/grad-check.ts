import { expect } from "vitest";
import { mulberry32 } from "../../compiler/random.js";
import type { Graph } from "../../compiler/ir/graph.js";
import { interpret } from "../../compiler/ir/interpret.js";
import { makeTensor, type Tensor } from "../../compiler/ir/tensor.js";
import { differentiate, gradientOutputName } from "../../compiler/passes/autodiff.js";
import { assertValidGraph } from "../../compiler/ir/verify.js";

/** Deterministic uniform numbers in [0, 1), so failures reproduce. */
export const rng = mulberry32;

export function randomTensor(shape: readonly number[], random: () => number, lo = -1, hi = 1): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return makeTensor(shape, Array.from({ length: size }, () => lo + (hi - lo) * random()));
}

/** Uniform magnitudes in [lo, hi) with random signs: keeps away from kinks at 0. */
export function awayFromZero(shape: readonly number[], random: () => number, lo = 0.2, hi = 1.5): Tensor {
  const t = randomTensor(shape, random, lo, hi);
  return makeTensor(shape, t.data.map((v) => (random() < 0.5 ? -v : v)));
}

function norm(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] as number) ** 2;
  return Math.sqrt(s);
}

export interface GradCheckOptions {
  /** Use random directional derivatives instead of all coordinates above this many elements. */
  readonly maxCoordinates?: number;
  readonly directions?: number;
  readonly tolerance?: number;
}

/**
 * Differentiates the scalar output `of` of `graph` w.r.t. `wrt` with the autodiff pass
 * and compares against central finite differences in float64:
 * ||analytic - numeric|| / max(||analytic||, ||numeric||, 1e-6) < tolerance (1e-6).
 * Inputs larger than `maxCoordinates` are checked along random directions v instead:
 * <grad, v> against (f(x + hv) - f(x - hv)) / 2h.
 */
export function checkGradients(graph: Graph, of: string, inputs: Record<string, Tensor>, wrt: readonly string[], options: GradCheckOptions = {}): void {
  const tolerance = options.tolerance ?? 1e-6;
  const gradGraph = differentiate(graph, { of, wrt });
  assertValidGraph(gradGraph, "gradient graph");
  const analytic = interpret(gradGraph, inputs);
  const f = (override: Record<string, Tensor>): number => {
    const out = interpret(graph, { ...inputs, ...override }, { outputs: [of] })[of] as Tensor;
    return out.data[0] as number;
  };
  for (const name of wrt) {
    const x = inputs[name] as Tensor;
    const grad = (analytic[gradientOutputName(name)] as Tensor).data;
    expect(grad.length, `gradient size of ${name}`).toBe(x.data.length);
    const scale = Math.max(1, ...Array.from(x.data, Math.abs));
    const h = 1e-6 * scale;
    const shifted = (dir: Float64Array, sign: number): Tensor => makeTensor(x.shape, x.data.map((v, i) => v + sign * h * (dir[i] as number)));
    const analyticValues: number[] = [];
    const numericValues: number[] = [];
    if (x.data.length <= (options.maxCoordinates ?? 300)) {
      for (let i = 0; i < x.data.length; i++) {
        const e = new Float64Array(x.data.length);
        e[i] = 1;
        numericValues.push((f({ [name]: shifted(e, 1) }) - f({ [name]: shifted(e, -1) })) / (2 * h));
        analyticValues.push(grad[i] as number);
      }
    } else {
      const random = rng(x.data.length);
      for (let d = 0; d < (options.directions ?? 6); d++) {
        const v = Float64Array.from(x.data, () => random() * 2 - 1);
        numericValues.push((f({ [name]: shifted(v, 1) }) - f({ [name]: shifted(v, -1) })) / (2 * h));
        analyticValues.push(grad.reduce((acc, gi, i) => acc + gi * (v[i] as number), 0));
      }
    }
    const diff = norm(analyticValues.map((a, i) => a - (numericValues[i] as number)));
    const relative = diff / Math.max(norm(analyticValues), norm(numericValues), 1e-6);
    expect(relative, `relative gradient error for ${name}`).toBeLessThan(tolerance);
  }
}
