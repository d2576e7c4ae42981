import type { CompileValue } from "../../lower/values.js";
import { SLOTS, type Slot } from "../../sema/checked.js";
import type { ConnectionInfo } from "./connection-info.js";
import { PHI_INIT_STD } from "./connection-module.js";

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

export function buildManifest(connections: readonly ConnectionInfo[], options: { source: string; compilerVersion: string }): Manifest {
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
  };
}
