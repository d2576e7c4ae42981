import type { CompileValue } from "../../lower/values.js";
import { SLOTS, type Slot } from "../../sema/checked.js";
import type { ConnectionInfo } from "./connection-info.js";
import { PHI_INIT_STD } from "./connection-module.js";
import type { ModelPlan } from "./model-module.js";

/*
 * `manifest.json` of the tfjs target: what a loader, a weights converter or a test
 * needs without reading the generated code. Every object is built with its keys in a
 * fixed order and every list in declaration order, so `JSON.stringify` is deterministic.
 */

export interface ManifestMap {
  readonly mode: string;
  readonly constraint: string;
  readonly args: Readonly<Record<string, CompileValue>>;
  readonly logitsShape: readonly number[];
  readonly k: number;
  readonly projection: boolean;
  readonly init: string | null;
}

export interface ManifestConnection {
  readonly name: string;
  readonly module: string;
  readonly args: Readonly<Record<string, CompileValue>>;
  readonly n: number;
  readonly dtype: "float32";
  readonly norm: { readonly kind: string; readonly eps: number };
  readonly projection: string;
  readonly init: { readonly alpha: number; readonly phiStd: number; readonly layer: number };
  readonly parameters: readonly { readonly name: string; readonly shape: readonly (number | string)[]; readonly dtype: "float32" }[];
  readonly entryPoints: Readonly<Record<string, string>>;
  readonly maps: Readonly<Record<Slot, ManifestMap>>;
}

export interface Manifest {
  readonly format: "mhc-tfjs";
  readonly formatVersion: 1;
  readonly compiler: { readonly name: "mhc-lang"; readonly version: string };
  readonly source: string;
  readonly target: "tfjs";
  readonly dtype: "float32";
  readonly connections: readonly ManifestConnection[];
  /** Present only when the file declares models (connection-only outputs are unchanged). */
  readonly models?: readonly ManifestModel[];
}

export interface ManifestModel {
  readonly name: string;
  readonly module: string;
  /** The connection modules it imports. */
  readonly connections: readonly string[];
  readonly config: {
    readonly vocab: number;
    readonly dim: number;
    readonly context: number;
    readonly layers: number;
    readonly streams: number;
    readonly expand: string;
    readonly collapse: string;
    readonly normEps: number;
    readonly tieEmbeddings: boolean;
  };
  readonly parameterCount: number;
  readonly parameters: readonly { readonly name: string; readonly shape: readonly number[]; readonly dtype: "float32"; readonly init: string }[];
  readonly entryPoints: Readonly<Record<string, string>>;
}

/** The signatures of a model module's functions. */
export const MODEL_ENTRY_POINTS: Readonly<Record<string, string>> = {
  forward: "forward(params, tokens int32 [B, T <= context]) -> logits [B, T, vocab]",
  loss: "loss(params, tokens int32 [B, T + 1]) -> mean next-token cross-entropy (nats), scalar",
  initParameters: "initParameters(seed = 0) -> { name: tensor }",
  checkParameters: "checkParameters(params) -> void (throws on a missing or mis-shaped tensor)",
};

export function modelManifest(plan: ModelPlan): ManifestModel {
  const m = plan.model;
  return {
    name: m.name,
    module: plan.file,
    connections: plan.connections.map((c) => c.file),
    config: { vocab: m.vocab, dim: m.dim, context: m.context, layers: m.layers, streams: plan.n, expand: m.expand, collapse: m.collapse, normEps: m.normEps, tieEmbeddings: m.tieEmbeddings },
    parameterCount: plan.parameters.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0),
    parameters: plan.parameters.map((p) => ({
      name: p.name,
      shape: [...p.shape],
      dtype: "float32" as const,
      init: p.init.kind === "normal" ? `normal(0, ${p.init.std})` : p.init.kind === "fill" ? `fill(${p.init.value})` : `bias(${p.init.values.length} values from init)`,
    })),
    entryPoints: MODEL_ENTRY_POINTS,
  };
}

/** The signatures of a connection module's functions (shapes over T, n, C). */
export const ENTRY_POINTS: Readonly<Record<string, string>> = {
  sublayer: "sublayer(params, x [T, n, C], f [T, C] | (u [T, C]) => f) -> { y [T, n, C], u [T, C], H_pre [T, n], H_post [T, n], H_res [T, n, n] }",
  pre: "pre(params, x [T, n, C]) -> { u [T, C], H_pre [T, n], H_post [T, n], H_res [T, n, n] }",
  post: "post(params, x [T, n, C], f [T, C], state) -> y [T, n, C]",
  initParameters: "initParameters(C, seed = 0) -> params",
  parameterShapes: "parameterShapes(C) -> { name: shape }",
};

const record = (pairs: readonly (readonly [string, CompileValue])[]): Record<string, CompileValue> => Object.fromEntries(pairs);

export function buildManifest(connections: readonly ConnectionInfo[], options: { source: string; compilerVersion: string; models?: readonly ManifestModel[] }): Manifest {
  return {
    format: "mhc-tfjs",
    formatVersion: 1,
    compiler: { name: "mhc-lang", version: options.compilerVersion },
    source: options.source.split("\\").join("/"),
    target: "tfjs",
    dtype: "float32",
    connections: connections.map((c) => ({
      name: c.name,
      module: `${c.name}.ts`,
      args: record(c.args),
      n: c.n,
      dtype: "float32",
      norm: { kind: c.norm.kind, eps: c.norm.eps },
      projection: c.projection,
      init: { alpha: c.alpha, phiStd: PHI_INIT_STD, layer: 0 },
      parameters: c.parameters.map((p) => ({ name: p.name, shape: [...p.shape], dtype: "float32" as const })),
      entryPoints: ENTRY_POINTS,
      maps: Object.fromEntries(
        SLOTS.map((slot) => {
          const m = c.maps[slot];
          const map: ManifestMap = { mode: m.mode, constraint: m.constraint, args: record(m.args), logitsShape: m.logitsShape, k: m.k, projection: m.projection, init: m.initSource ?? null };
          return [slot, map];
        }),
      ) as Record<Slot, ManifestMap>,
    })),
    ...(options.models && options.models.length > 0 ? { models: options.models } : {}),
  };
}
