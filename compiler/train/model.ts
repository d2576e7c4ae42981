import type * as tf from "@tensorflow/tfjs-core";
import type { CheckResult } from "../driver.js";
import { generateModelModules, type ModelPlan } from "../codegen/tfjs/index.js";
import type { CheckedModel } from "../sema/checked.js";
import { loadGeneratedModules } from "../../runtime/tfjs/load-generated.js";

/** What a generated model module exports (see `compiler/codegen/tfjs/model-module.ts`). */
export interface ModelModule {
  readonly model: string;
  readonly config: { readonly vocab: number; readonly dim: number; readonly context: number; readonly layers: number; readonly streams: number; readonly dropout: number };
  readonly parameterSpecs: readonly { readonly name: string; readonly shape: readonly number[] }[];
  initParameters(seed?: number): Record<string, tf.Tensor>;
  checkParameters(params: Readonly<Record<string, tf.Tensor>>): void;
  forward(params: Readonly<Record<string, tf.Tensor>>, tokens: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D;
  loss(params: Readonly<Record<string, tf.Tensor>>, tokens: tf.Tensor2D, options?: ForwardOptions): tf.Scalar;
}

/** Training mode applies the model's dropout, with masks drawn from `seed` (eval mode is the default). */
export interface ForwardOptions {
  readonly training?: boolean;
  readonly seed?: number | string;
}

export interface CompiledModel {
  readonly plan: ModelPlan;
  readonly module: ModelModule;
  readonly files: readonly { path: string; text: string }[];
  readonly parameterCount: number;
}

/** Generates a model's TypeScript modules and loads them in this process (same tfjs instance). */
export async function compileModel(result: CheckResult, model: CheckedModel, compilerVersion: string, options: { customGradients?: boolean } = {}): Promise<CompiledModel> {
  const { plan, files } = await generateModelModules(result, model, { compilerVersion, ...options });
  const modules = await loadGeneratedModules(files);
  const module = modules.get(plan.file) as unknown as ModelModule;
  const parameterCount = plan.parameters.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  return { plan, module, files, parameterCount };
}
