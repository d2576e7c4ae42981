import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { packageRoot } from "../../compiler/package-root.js";

/**
 * Backend selection for generated TensorFlow.js code (design.md §4.1).
 *
 * Order when nothing is requested: `tensorflow` from `@tensorflow/tfjs-node-gpu` or
 * `@tensorflow/tfjs-node` (optional peer dependencies: used only when the user installed
 * one), then `wasm` (`@tensorflow/tfjs-backend-wasm`; in Node it finds its `.wasm`
 * binaries next to its own files, no `setWasmPaths` needed), then the plain `cpu`
 * backend. `backend: "wasm" | "cpu" | "tensorflow"` asks for one and fails with a clear
 * message when it cannot start. The result names the backend so the CLI can print it.
 *
 * Generated modules import only `@tensorflow/tfjs-core`; this file is what a program
 * (or `mhc train`) calls once before running them.
 */

export const BACKEND_NAMES = ["tensorflow", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendAttempt {
  readonly package: string;
  readonly error: string;
}

export interface BackendSelection {
  /** The active tfjs backend: `tf.getBackend()` after selection. */
  readonly name: BackendName;
  /** The package that provides it. */
  readonly package: string;
  /** Whether `backend` asked for it, or it was the first that started. */
  readonly requested: boolean;
  /** Candidates tried before it, with why each failed (optional peers not installed, ...). */
  readonly skipped: readonly BackendAttempt[];
  /** Whether gradients (`tf.grad`, training) are registered; see `ensureGradients`. */
  readonly gradients: boolean;
}

export interface SelectOptions {
  /** `auto` (default) or a backend to insist on. */
  readonly backend?: BackendName | "auto";
  /** Register tfjs-core's gradient functions too (default true). */
  readonly gradients?: boolean;
  /** How packages are imported; tests substitute failures. Default: dynamic `import()`. */
  readonly importModule?: (specifier: string) => Promise<unknown>;
}

/** Thrown when a requested backend cannot start; the message says what to install. */
export class BackendUnavailableError extends Error {
  override readonly name = "BackendUnavailableError";
}

interface Candidate {
  readonly backend: BackendName;
  readonly package: string;
}

const CANDIDATES: readonly Candidate[] = [
  { backend: "tensorflow", package: "@tensorflow/tfjs-node-gpu" },
  { backend: "tensorflow", package: "@tensorflow/tfjs-node" },
  { backend: "wasm", package: "@tensorflow/tfjs-backend-wasm" },
  { backend: "cpu", package: "@tensorflow/tfjs-backend-cpu" },
];

const INSTALL_HINT: Readonly<Record<BackendName, string>> = {
  tensorflow: "install `@tensorflow/tfjs-node` (or `@tensorflow/tfjs-node-gpu` with CUDA 11.2 / cuDNN 8.1) next to mhc-lang",
  wasm: "`@tensorflow/tfjs-backend-wasm` ships with mhc-lang; reinstall it if it is missing",
  cpu: "`@tensorflow/tfjs-backend-cpu` ships with mhc-lang; reinstall it if it is missing",
};

// A variable specifier keeps TypeScript and bundlers from resolving optional peers at build time.
const defaultImport = (specifier: string): Promise<unknown> => import(specifier);

function message(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}

/** Whether an import failed because the package itself is absent (Node's codes; bundlers' and Vite's wording). */
function isNotFound(error: unknown, pkg: string): boolean {
  const code = (error as { code?: string }).code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return message(error).includes(pkg);
  return /cannot find (package|module)|could not resolve|failed to resolve/i.test(message(error)) && message(error).includes(pkg);
}

/** Imports the candidate's package (which registers its backend) and makes it the active backend. */
async function start(candidate: Candidate, importModule: (s: string) => Promise<unknown>): Promise<string | undefined> {
  try {
    await importModule(candidate.package);
  } catch (error) {
    return isNotFound(error, candidate.package) ? "not installed" : `cannot be loaded: ${message(error)}`;
  }
  if (!tf.findBackendFactory(candidate.backend)) return `did not register a \`${candidate.backend}\` backend`;
  try {
    if (!(await tf.setBackend(candidate.backend))) return `the \`${candidate.backend}\` backend failed to initialise`;
  } catch (error) {
    return `the \`${candidate.backend}\` backend failed to initialise: ${message(error)}`;
  }
  return undefined;
}

/** Chooses, starts and activates a backend; see the module comment for the order. */
export async function selectBackend(options: SelectOptions = {}): Promise<BackendSelection> {
  const wanted = options.backend ?? "auto";
  if (wanted !== "auto" && !(BACKEND_NAMES as readonly string[]).includes(wanted)) {
    throw new BackendUnavailableError(`unknown backend \`${String(wanted)}\`: expected ${BACKEND_NAMES.map((b) => `\`${b}\``).join(", ")} or \`auto\``);
  }
  const importModule = options.importModule ?? defaultImport;
  const candidates = wanted === "auto" ? CANDIDATES : CANDIDATES.filter((c) => c.backend === wanted);
  const skipped: BackendAttempt[] = [];
  for (const candidate of candidates) {
    const problem = await start(candidate, importModule);
    if (problem) {
      skipped.push({ package: candidate.package, error: problem });
      continue;
    }
    const gradients = options.gradients === false ? hasGradients() : (await ensureGradients(importModule)).ok;
    return { name: candidate.backend, package: candidate.package, requested: wanted !== "auto", skipped, gradients };
  }
  const tried = skipped.map((s) => `${s.package}: ${s.error}`).join("; ");
  if (wanted !== "auto") throw new BackendUnavailableError(`the \`${wanted}\` backend is not available (${tried}); ${INSTALL_HINT[wanted]}`);
  throw new BackendUnavailableError(`no TensorFlow.js backend could start (${tried})`);
}

/** The gradient-registry probe: tfjs-core's gradients are registered together, so one stands for all. */
export function hasGradients(): boolean {
  return tf.getGradient("Softmax") !== undefined && tf.getGradient("BatchMatMul") !== undefined;
}

export const GRADIENTS_MODULE = "@tensorflow/tfjs-core/dist/register_all_gradients.js";

/**
 * The gradients prebuilt by `npm run build` into one CommonJS file: tfjs-core
 * ships them only as ES modules that import without file extensions (written
 * for bundlers), which plain Node cannot load. They register into tfjs's
 * global registries, so this copy serves the tfjs-core the CLI loaded.
 */
export const PREBUILT_GRADIENTS = join("dist", "tfjs-gradients.cjs");

/**
 * Registers tfjs-core's gradient functions, which its main entry leaves out.
 * Ways, in order: already registered; the prebuilt bundle of the installed
 * package; tfjs-core's module imported directly (bundlers, Vite, vitest); the
 * `@tensorflow/tfjs` union package when the user installed it.
 */
export async function ensureGradients(importModule: (s: string) => Promise<unknown> = defaultImport): Promise<{ ok: boolean; how: string }> {
  if (hasGradients()) return { ok: true, how: "already registered" };
  const attempts: string[] = [];
  try {
    const file = join(packageRoot(), PREBUILT_GRADIENTS);
    if (existsSync(file)) {
      createRequire(import.meta.url)(file);
      if (hasGradients()) return { ok: true, how: PREBUILT_GRADIENTS };
    } else attempts.push(`${PREBUILT_GRADIENTS}: not built`);
  } catch (error) {
    attempts.push(`${PREBUILT_GRADIENTS}: ${message(error)}`);
  }
  for (const specifier of [GRADIENTS_MODULE, "@tensorflow/tfjs"]) {
    try {
      await importModule(specifier);
      if (hasGradients()) return { ok: true, how: specifier };
    } catch (error) {
      attempts.push(`${specifier}: ${message(error)}`);
    }
  }
  return { ok: false, how: `gradients are not registered (${attempts.join("; ")}); run \`npm run build\`` };
}
