import type { CheckResult } from "../../driver.js";
import type { Graph } from "../../ir/graph.js";
import { buildSublayerGraph } from "../../lower/sublayer-graph.js";
import { OPTIMIZATION_PIPELINE, runPipeline } from "../../passes/pipeline.js";
import type { CheckedConnection } from "../../sema/checked.js";
import { connectionInfo, type ConnectionInfo } from "./connection-info.js";
import { connectionModuleSource, shownPath } from "./connection-module.js";
import { buildManifest, modelManifest, type Manifest, type ManifestModel } from "./manifest.js";
import { modelModuleSource, planModel, type ModelPlan } from "./model-module.js";
import type { CheckedModel } from "../../sema/checked.js";

export { PHI_INIT_STD } from "./connection-module.js";
export { VETTED_TF_OPS, vettedKernels, tfReferences } from "./vetted-ops.js";
export { TFJS_TEMPLATES } from "./templates.js";
export { planModel, connectionStem, type ModelPlan, type ModelParameter } from "./model-module.js";

/** One file of the output directory, relative path and UTF-8 text. */
export interface GeneratedFile {
  readonly path: string;
  readonly text: string;
}

export interface SkippedConnection {
  readonly name: string;
  readonly reason: string;
}

export interface TfjsOutput {
  /** `<name>.ts` per connection in declaration order, then `manifest.json`. */
  readonly files: readonly GeneratedFile[];
  readonly connections: readonly ConnectionInfo[];
  /** Connections of the file that have no module (parameters without defaults). */
  readonly skipped: readonly SkippedConnection[];
  readonly manifest: Manifest;
  /** The models of the entry file, each with its module and the connection modules it imports. */
  readonly models: readonly ModelPlan[];
}

export interface TfjsOptions {
  readonly compilerVersion: string;
  /** Only these connections (any the program checked, prelude included); default: those declared in the entry file. */
  readonly connections?: readonly string[];
  /** Models to emit: "all" (every model declared in the entry file) or names; default none (`mhc compile --models`). */
  readonly models?: "all" | readonly string[];
  /** Each map's coefficients as one `tf.customGrad` with the IR's gradient (default true). */
  readonly customGradients?: boolean;
}

/** The display path of the first entry file (what spans and the manifest call it). */
export function entryDisplayPath(result: CheckResult): string {
  const entry = result.checked.program.entries[0];
  const file = entry === undefined ? undefined : result.checked.program.files.get(entry);
  if (!file) throw new Error("tfjs codegen: the program has no entry file");
  return file.displayPath;
}

/** The connections `mhc compile` emits: those declared in the entry file that checked with their defaults. */
export function selectConnections(result: CheckResult, names?: readonly string[]): { selected: CheckedConnection[]; skipped: SkippedConnection[] } {
  const all = result.checked.connections;
  if (names) {
    const selected = names.map((name) => {
      const conn = all.get(name);
      if (!conn) throw new Error(`tfjs codegen: no connection \`${name}\` checked with its defaults`);
      return conn;
    });
    return { selected, skipped: [] };
  }
  const entry = entryDisplayPath(result);
  const selected = [...all.values()].filter((c) => c.decl.span.file === entry);
  const skipped: SkippedConnection[] = [];
  const file = result.checked.program.files.get(result.checked.program.entries[0] as string);
  for (const decl of file?.ast.decls ?? []) {
    if (decl.kind !== "Connection" || decl.name.name === "" || all.has(decl.name.name)) continue;
    const required = decl.params.filter((p) => !p.default).map((p) => `\`${p.name.name}\``);
    skipped.push({ name: decl.name.name, reason: required.length > 0 ? `${required.join(", ")} ${required.length === 1 ? "has" : "have"} no default` : "it did not check cleanly" });
  }
  return { selected, skipped };
}

/** The sublayer graph the tfjs target compiles (float32, `f` an input), before and after the pipeline. */
export function tfjsSublayerGraphs(result: CheckResult, conn: CheckedConnection): { before: Graph; after: Graph } {
  const { graph } = buildSublayerGraph(result.checked, conn, { sublayer: "input", dtype: "f32" });
  return { before: graph, after: runPipeline(graph, OPTIMIZATION_PIPELINE) };
}

/** Formats generated TypeScript with prettier's standalone build (no config files: deterministic). */
export async function formatTypeScript(source: string): Promise<string> {
  const [prettier, typescript, estree] = await Promise.all([import("prettier/standalone"), import("prettier/plugins/typescript"), import("prettier/plugins/estree")]);
  return prettier.format(source, { parser: "typescript", plugins: [typescript, estree], printWidth: 100, trailingComma: "all" });
}

/** The formatted module of one connection (any instance the checker produced, e.g. `mhc(n = 3)`). */
export async function generateConnectionModule(result: CheckResult, conn: CheckedConnection, options: TfjsOptions): Promise<{ file: GeneratedFile; info: ConnectionInfo }> {
  const entry = entryDisplayPath(result);
  const info = connectionInfo(result.checked, result.sources, conn);
  const { after } = tfjsSublayerGraphs(result, conn);
  const declaredIn = shownPath(conn.decl.span.file, entry);
  const source = connectionModuleSource({ info, graph: after, sources: result.sources, entry, declaredIn, compilerVersion: options.compilerVersion, ...(options.customGradients === false ? { customGradients: false } : {}) });
  return { file: { path: `${conn.name}.ts`, text: await formatTypeScript(source) }, info };
}

/** The models `mhc compile` emits: those declared in the entry file (or the named ones). */
export function selectModels(result: CheckResult, names?: readonly string[]): CheckedModel[] {
  const all = result.checked.models;
  if (names) {
    return names.map((name) => {
      const model = all.get(name);
      if (!model) throw new Error(`tfjs codegen: no model \`${name}\` checked`);
      return model;
    });
  }
  const entry = entryDisplayPath(result);
  return [...all.values()].filter((m) => m.decl.span.file === entry);
}

/** The plan of one model: parameters (with biases evaluated per sublayer index), block, connection modules. */
export function planTfjsModel(result: CheckResult, model: CheckedModel): ModelPlan {
  return planModel(model, (conn, layer) => connectionInfo(result.checked, result.sources, conn, { layer }));
}

/**
 * The formatted module of one model, and the modules of the connections it imports
 * (named by connection and arguments, e.g. `mhc_n4_iters20.ts`).
 */
export async function generateModelModules(result: CheckResult, model: CheckedModel, options: TfjsOptions): Promise<{ plan: ModelPlan; files: GeneratedFile[] }> {
  const plan = planTfjsModel(result, model);
  const files: GeneratedFile[] = [];
  for (const c of plan.connections) {
    const { file } = await generateConnectionModule(result, c.conn, options);
    files.push({ path: c.file, text: file.text });
  }
  const source = modelModuleSource(plan, { entry: entryDisplayPath(result), compilerVersion: options.compilerVersion });
  files.push({ path: plan.file, text: await formatTypeScript(source) });
  return { plan, files };
}

/**
 * `mhc compile --target tfjs`: one formatted TypeScript module per connection and per
 * model (with the connection modules each model imports) and a manifest.
 * Deterministic: the output depends only on the sources, the compiler version and the
 * options (no paths beyond the entry's display path, no time).
 */
export async function generateTfjs(result: CheckResult, options: TfjsOptions): Promise<TfjsOutput> {
  const { selected, skipped } = selectConnections(result, options.connections);
  const files: GeneratedFile[] = [];
  const infos: ConnectionInfo[] = [];
  for (const conn of selected) {
    const { file, info } = await generateConnectionModule(result, conn, options);
    files.push(file);
    infos.push(info);
  }
  const plans: ModelPlan[] = [];
  const models: ManifestModel[] = [];
  const wantedModels = options.models === undefined ? [] : selectModels(result, options.models === "all" ? undefined : options.models);
  for (const model of wantedModels) {
    const generated = await generateModelModules(result, model, options);
    for (const file of generated.files) {
      const existing = files.find((f) => f.path === file.path);
      if (existing && existing.text !== file.text) throw new Error(`tfjs codegen: two different modules named ${file.path}`);
      if (!existing) files.push(file);
    }
    plans.push(generated.plan);
    models.push(modelManifest(generated.plan));
  }
  const manifest = buildManifest(infos, { source: entryDisplayPath(result), compilerVersion: options.compilerVersion, models });
  files.push({ path: "manifest.json", text: JSON.stringify(manifest, null, 2) + "\n" });
  return { files, connections: infos, skipped, manifest, models: plans };
}
