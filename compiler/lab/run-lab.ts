import { relative } from "node:path";
import { DiagnosticBag } from "../diagnostics/bag.js";
import { makeDiagnostic, type Diagnostic } from "../diagnostics/diagnostic.js";
import { Diag } from "../diagnostics/messages.js";
import { Builder } from "../ir/builder.js";
import { Graph } from "../ir/graph.js";
import { interpret } from "../ir/interpret.js";
import { makeTensor } from "../ir/tensor.js";
import { buildConstraintGraph, concreteLogitsShape, constraintResolver } from "../lower/constraint-graph.js";
import { ExprLowering } from "../lower/lower-expr.js";
import { num, type CompileValue, type Lowered } from "../lower/values.js";
import { differentiate, gradientOutputName } from "../passes/autodiff.js";
import { ConstraintChecker, type ConstraintSignature } from "../sema/constraints.js";
import type { CheckedProgram } from "../sema/index.js";
import * as P from "../sema/poly.js";
import type { Value } from "../sema/values.js";
import { compositeGain } from "./composite-gain.js";
import { colSumErrors, countNonFinite, finiteRange, rowSumErrors, sampleNorms, spectralNorms, summarize } from "./metrics.js";
import { PAPER_REFERENCE, REPORT_SCHEMA, type ConstraintKind, type ConstraintReport, type IterationPoint, type IterationReport, type LabReport, type LabSettings, type ScaleReport } from "./report.js";
import { gaussianStream, unitDirections } from "./sampling.js";

/**
 * The constraint laboratory (`mhc lab`, design.md §5): runs constraints of a
 * checked program on seeded random logits through the float64 reference
 * interpreter and measures what the mHC paper cares about (row and column sum
 * error, spectral norm, the composite gain over depth, gradient norms, error
 * vs iterations). Two phases: `prepareConstraint` turns a name into something
 * runnable or coded diagnostics (so the command reports every mistake before
 * any long work), then `runLab` computes the typed report.
 *
 * Sampling. Logits are standard Gaussian times each scale. The Gaussian draws
 * come from named streams (sampling.ts) keyed by purpose and logits shape, and
 * are shared across scales: constraints with the same logits shape see the
 * same logits, and one scale differs from another only by the factor.
 */

export const DEFAULT_SCALES: readonly number[] = [0.1, 1, 10, 100, 1e4];
export const DEFAULT_ITERATION_COUNTS: readonly number[] = [1, 2, 3, 5, 10, 20, 50, 100];
/** Parameters recognised as an iteration count, in order of preference. */
export const ITERATION_PARAMETERS: readonly string[] = ["iters", "steps"];
/** Logits per sample above which a constraint is refused (e.g. `birkhoff_lite` at n = 12 has 12! logits). */
export const MAX_LOGITS_PER_SAMPLE = 1 << 16;
/** Interpreter values kept alive at once (nodes x tokens x elements); larger batches are run in chunks. */
const CHUNK_VALUES = 8_000_000;

export interface LabRunOptions {
  readonly n: number;
  readonly depth: number;
  readonly samples: number;
  /** Default: `samples`. */
  readonly chains?: number;
  readonly seed: number;
  readonly scales?: readonly number[];
  readonly iterationCounts?: readonly number[];
  /** `--set`: applied to every constraint that declares the parameter. */
  readonly settings?: ReadonlyMap<string, CompileValue>;
  /** Called before each unit of work (`done` of `total` finished). */
  readonly onProgress?: (done: number, total: number, what: string) => void;
}

/** A constraint ready to run: its graphs are built lazily per run. */
export interface PreparedConstraint {
  readonly sig: ConstraintSignature;
  readonly declaredIn: string;
  readonly args: ReadonlyMap<string, CompileValue>;
  readonly logitsShape: readonly number[];
  readonly resultShape: readonly number[];
  readonly kind: ConstraintKind;
  readonly polymorphic: boolean;
  /** The `iters`/`steps` parameter, when the constraint has an integer one. */
  readonly iterationParameter?: string;
}

const prod = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function toValue(v: CompileValue): Value {
  if (typeof v === "boolean") return { kind: "bool", value: v };
  return Number.isInteger(v) ? { kind: "int", value: P.constant(v) } : { kind: "float", value: v };
}

/**
 * Checks one use of `sig` at `n` with `args` the way sema checks a connection's
 * use (a `repeat` count that turns negative, a zero dimension), in a bag of its own.
 */
export function checkUse(checked: CheckedProgram, sig: ConstraintSignature, n: number, args: ReadonlyMap<string, CompileValue>, logitsShape: readonly number[]): Diagnostic[] {
  const bag = new DiagnosticBag();
  const checker = new ConstraintChecker(bag, checked.scopes);
  const fresh = checker.signature(sig.decl, sig.scope);
  const values = new Map<string, Value>([...args].map(([k, v]) => [k, toValue(v)]));
  const result = checker.instantiate(fresh, { n: P.constant(n), args: values, logitsShape: logitsShape.map(P.constant) });
  const errors = bag.diagnostics.filter((d) => d.severity === "error");
  if (errors.length === 0 && result.kind === "error") return [makeDiagnostic(Diag.InternalError, undefined, [`\`${sig.name}\` failed to instantiate at n = ${n} without a diagnostic`])];
  return errors;
}

/** The value of every compile-time parameter: `given` where present, else its default (undefined when one has none). */
export function resolveArgs(checked: CheckedProgram, sig: ConstraintSignature, n: number, given: ReadonlyMap<string, CompileValue>): { args: Map<string, CompileValue>; missing: string[] } {
  const scratch = new Builder(new Graph(), { dtype: "f64" });
  const lowering = new ExprLowering(scratch, 0, constraintResolver(checked), sig.scope, n);
  const env = new Map<string, Lowered>([["n", num(n)]]);
  const args = new Map<string, CompileValue>();
  const missing: string[] = [];
  for (const p of sig.params) {
    const value = given.get(p.name);
    let lowered: Lowered | undefined;
    if (value !== undefined) lowered = typeof value === "boolean" ? { kind: "bool", value } : num(value);
    else if (p.default) lowered = lowering.expr(p.default, env);
    if (!lowered) {
      missing.push(p.name);
      continue;
    }
    env.set(p.name, lowered);
    if (lowered.kind === "number" || lowered.kind === "bool") args.set(p.name, lowered.value);
  }
  return { args, missing };
}

/**
 * Resolves one constraint for the lab: parameter values, logits and result
 * shapes, kind. Returns coded diagnostics for what the user must fix.
 */
export function prepareConstraint(checked: CheckedProgram, sig: ConstraintSignature, n: number, settings: ReadonlyMap<string, CompileValue>, cwd: string): PreparedConstraint | { diagnostics: Diagnostic[] } {
  const given = new Map([...settings].filter(([k]) => sig.params.some((p) => p.name === k)));
  const { args, missing } = resolveArgs(checked, sig, n, given);
  if (missing.length > 0) {
    return {
      diagnostics: missing.map((name) =>
        makeDiagnostic(Diag.MissingArgument, undefined, [name, sig.name], { help: `give it a value with \`--set ${name}=VALUE\`, or a default in the declaration` }),
      ),
    };
  }
  const polymorphic = !sig.logits.dims;
  const logitsShape = concreteLogitsShape(checked, sig, n, args) ?? [n, n];
  const size = prod(logitsShape);
  if (size > MAX_LOGITS_PER_SAMPLE) {
    return {
      diagnostics: [
        makeDiagnostic(Diag.ShapeTooLarge, undefined, [`[${logitsShape.join(", ")}]`, size, MAX_LOGITS_PER_SAMPLE], {
          notes: [`these are the logits of \`${sig.name}\` at n = ${n}`],
          help: "run the lab with a smaller `--n`",
        }),
      ],
    };
  }
  const problems = checkUse(checked, sig, n, args, logitsShape);
  if (problems.length > 0) return { diagnostics: problems };
  const { result } = buildConstraintGraph(checked, sig, n, args, logitsShape, { batch: ["T"] });
  const resultShape = result.shape.slice(1).map((d) => {
    if (typeof d !== "number") throw new Error(`lab: result of ${sig.name} has a symbolic dimension ${String(d)}`);
    return d;
  });
  const kind: ConstraintKind = resultShape.length === 2 && resultShape[0] === n && resultShape[1] === n ? "matrix" : resultShape.length === 1 ? "vector" : "tensor";
  const iterationParameter = kind === "matrix" ? ITERATION_PARAMETERS.find((name) => sig.params.some((p) => p.name === name && p.type === "int")) : undefined;
  const file = sig.scope.file;
  const declaredIn = checked.program.prelude?.absPath === file.absPath ? "<prelude>" : relative(cwd, file.absPath) || file.absPath;
  return { sig, declaredIn, args, logitsShape, resultShape, kind, polymorphic, ...(iterationParameter ? { iterationParameter } : {}) };
}

/** The forward graph (`H`) and the gradient graph (`H`, `grad_L` of sum(H * G)) of a prepared constraint. */
function buildGraphs(checked: CheckedProgram, c: PreparedConstraint, n: number, args: ReadonlyMap<string, CompileValue>): { forward: Graph; gradient: Graph } {
  const forward = buildConstraintGraph(checked, c.sig, n, args, c.logitsShape, { batch: ["T"] }).graph;
  const g = buildConstraintGraph(checked, c.sig, n, args, c.logitsShape, { batch: ["T"] });
  const b = new Builder(g.graph, { dtype: "f64" });
  const cotangent = b.input("G", g.result.shape);
  g.graph.output("loss", b.sumAll(b.mul(g.result, cotangent)));
  return { forward, gradient: differentiate(g.graph, { of: "loss", wrt: ["L"] }) };
}

/**
 * Interprets `graph` on `count` samples whose inputs are stored contiguously
 * (`perSample` values each), in chunks so the interpreter's per-node values
 * stay bounded; returns each requested output, concatenated.
 */
function runBatched(graph: Graph, inputs: Readonly<Record<string, { data: Float64Array; sampleShape: readonly number[] }>>, count: number, outputs: readonly string[]): Record<string, Float64Array> {
  // Values the interpreter holds per token: every batched node's per-token size.
  let perToken = 0;
  for (const node of graph.nodes) {
    if (node.shape.length > 0 && typeof node.shape[0] !== "number") perToken += prod(node.shape.slice(1).map((d) => (typeof d === "number" ? d : 1)));
  }
  const chunk = Math.max(1, Math.floor(CHUNK_VALUES / Math.max(1, perToken)));
  const parts: Record<string, Float64Array[]> = Object.fromEntries(outputs.map((o) => [o, []]));
  for (let start = 0; start < count; start += chunk) {
    const size = Math.min(chunk, count - start);
    const values = Object.fromEntries(
      Object.entries(inputs).map(([name, input]) => {
        const per = prod(input.sampleShape);
        return [name, makeTensor([size, ...input.sampleShape], input.data.subarray(start * per, (start + size) * per))];
      }),
    );
    const result = interpret(graph, values, { outputs });
    for (const o of outputs) parts[o]!.push(result[o]!.data);
  }
  const out: Record<string, Float64Array> = {};
  for (const o of outputs) {
    const chunks = parts[o]!;
    const all = new Float64Array(chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    out[o] = all;
  }
  return out;
}

function scaled(base: Float64Array, scale: number): Float64Array {
  return base.map((v) => v * scale);
}

const shapeKey = (shape: readonly number[]): string => shape.join("x");

/** Runs the laboratory on prepared constraints and returns the report. */
export function runLab(checked: CheckedProgram, file: string, constraints: readonly PreparedConstraint[], options: LabRunOptions, version: string): LabReport {
  const { n, depth, samples, seed } = options;
  const chains = options.chains ?? samples;
  const scales = options.scales ?? DEFAULT_SCALES;
  const iterationCounts = options.iterationCounts ?? DEFAULT_ITERATION_COUNTS;
  const iterationScale = 1;
  const settings: LabSettings = {
    n,
    depth,
    samples,
    chains,
    seed,
    scales: [...scales],
    iterationCounts: [...iterationCounts],
    iterationScale,
    settings: Object.fromEntries(options.settings ?? []),
  };

  const total = constraints.reduce((a, c) => a + scales.length + (c.iterationParameter ? 1 : 0), 0);
  let done = 0;
  const step = (what: string): void => {
    options.onProgress?.(done, total, what);
    done++;
  };

  const reports: ConstraintReport[] = [];
  let nonFiniteOutputs = 0;
  let nonFiniteGradients = 0;
  for (const c of constraints) {
    const { forward, gradient } = buildGraphs(checked, c, n, c.args);
    const k = prod(c.logitsShape);
    const r = prod(c.resultShape);
    // Shared across scales and across constraints with the same shapes.
    const metricLogits = gaussianStream(samples * k, seed, "metrics", shapeKey(c.logitsShape));
    const cotangents = unitDirections(samples, r, seed, "cotangent", shapeKey(c.resultShape));
    const gainLogits = c.kind === "matrix" ? gaussianStream(chains * depth * k, seed, "gain", shapeKey(c.logitsShape)) : undefined;

    const scaleReports: ScaleReport[] = [];
    for (const scale of scales) {
      step(`${c.sig.name}, scale ${formatScale(scale)}`);
      const out = runBatched(
        gradient,
        { L: { data: scaled(metricLogits, scale), sampleShape: c.logitsShape }, G: { data: cotangents, sampleShape: c.resultShape } },
        samples,
        ["H", gradientOutputName("L")],
      );
      const H = out["H"]!;
      const grad = out[gradientOutputName("L")]!;
      const nonFinite = { outputs: countNonFinite(H), gradients: countNonFinite(grad) };
      nonFiniteOutputs += nonFinite.outputs;
      nonFiniteGradients += nonFinite.gradients;
      const first = firstNonFinite(H, c.resultShape, "H") ?? firstNonFinite(grad, c.logitsShape, "grad_L");
      const base = { scale, nonFinite, ...(first ? { firstNonFinite: first } : {}), range: finiteRange(H), gradientNorm: summarize(sampleNorms(grad, k, samples)) };
      if (c.kind !== "matrix" || !gainLogits) {
        scaleReports.push(base);
        continue;
      }
      const chainH = runBatched(forward, { L: { data: scaled(gainLogits, scale), sampleShape: c.logitsShape } }, chains * depth, ["H"])["H"]!;
      const gain = compositeGain(chainH, n, chains, depth);
      scaleReports.push({
        ...base,
        rowError: summarize(rowSumErrors(H, n, samples)),
        colError: summarize(colSumErrors(H, n, samples)),
        spectralNorm: summarize(spectralNorms(H, n, samples)),
        gain: {
          depth,
          chains,
          forward: gain.forward,
          backward: gain.backward,
          curve: {
            forward: Array.from(gain.forwardCurve),
            backward: Array.from(gain.backwardCurve),
            log10Forward: Array.from(gain.log10ForwardCurve),
            log10Backward: Array.from(gain.log10BackwardCurve),
          },
        },
      });
    }

    let iterations: IterationReport | undefined;
    if (c.iterationParameter) {
      const parameter = c.iterationParameter;
      step(`${c.sig.name}, ${parameter} sweep`);
      const logits = scaled(metricLogits, iterationScale);
      const points: IterationPoint[] = [];
      for (const count of iterationCounts) {
        const args = new Map(c.args).set(parameter, count);
        const problems = checkUse(checked, c.sig, n, args, c.logitsShape);
        if (problems.length > 0) {
          points.push({ count, skipped: problems[0]!.message });
          continue;
        }
        const graph = buildConstraintGraph(checked, c.sig, n, args, c.logitsShape, { batch: ["T"] }).graph;
        const H = runBatched(graph, { L: { data: logits, sampleShape: c.logitsShape } }, samples, ["H"])["H"]!;
        const bad = countNonFinite(H);
        nonFiniteOutputs += bad;
        points.push({ count, rowError: summarize(rowSumErrors(H, n, samples)), colError: summarize(colSumErrors(H, n, samples)), nonFinite: bad });
      }
      iterations = { parameter, scale: iterationScale, points };
    }

    reports.push({
      name: c.sig.name,
      declaredIn: c.declaredIn,
      kind: c.kind,
      polymorphic: c.polymorphic,
      args: Object.fromEntries(c.args),
      logitsShape: [...c.logitsShape],
      resultShape: [...c.resultShape],
      scales: scaleReports,
      ...(iterations ? { iterations } : {}),
    });
  }
  options.onProgress?.(total, total, "done");

  return {
    schema: REPORT_SCHEMA,
    generator: { tool: "mhc lab", version },
    file,
    settings,
    reference: { ...PAPER_REFERENCE },
    constraints: reports,
    nonFinite: { outputs: nonFiniteOutputs, gradients: nonFiniteGradients },
  };
}

/** The first NaN or infinity of a batch of samples of `sampleShape`, with its `[sample, ...index]`. */
function firstNonFinite(data: Float64Array, sampleShape: readonly number[], where: "H" | "grad_L"): ScaleReport["firstNonFinite"] {
  const at = data.findIndex((v) => !Number.isFinite(v));
  if (at < 0) return undefined;
  const index: number[] = [];
  let rest = at;
  for (let axis = sampleShape.length - 1; axis >= 0; axis--) {
    index.unshift(rest % sampleShape[axis]!);
    rest = Math.floor(rest / sampleShape[axis]!);
  }
  index.unshift(rest);
  const v = data[at]!;
  return { in: where, value: Number.isNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity", index };
}

/** `0.1`, `1`, `100`, `1e4`: short labels for logit scales. */
export function formatScale(scale: number): string {
  if (scale !== 0 && (Math.abs(scale) >= 1e4 || Math.abs(scale) < 1e-3)) {
    const [mantissa, exponent] = scale.toExponential().split("e");
    return `${mantissa}e${Number(exponent)}`;
  }
  return String(scale);
}
