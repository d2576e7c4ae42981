import { IrError } from "../ir/errors.js";
import type { Activation, CheckedConnection, CheckedModel, CheckedSublayer } from "../sema/checked.js";
import { concreteInt, connectionParameters } from "./parameters.js";

/*
 * The learned tensors of a whole model, with their documented names (README,
 * "Models"; design.md §2.3 for the connection's own) and concrete shapes, in
 * the fixed order every target and weights file uses:
 *
 *   embed.weight [vocab, C]
 *   expand.scale [n, C]                                   (expand learned)
 *   per sublayer s of layer l, prefix layers.{l}.{s}.:
 *     norm.weight [C]
 *     attn.wq [C, C], attn.wk [C, kv], attn.wv [C, kv], attn.wo [C, C]   kv = C / heads * kv_heads
 *     mlp.w_in [C, H], mlp.w_gate [C, H] (swiglu), mlp.w_out [H, C]
 *     conn.phi_pre, ..., conn.bias_res                    (the connection's parameters)
 *   head.phi [n*C, n], head.alpha [1], head.bias [n]      (collapse gated)
 *   final_norm.weight [C]
 *   lm_head.weight [vocab, C]                             (unless tie_embeddings)
 *
 * Weights are [in, out] (x @ W), except the two [vocab, C] tables.
 */

export interface ModelParameterSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** One sublayer of the block with its arguments read and checked for the lowering. */
export type SublayerConfig =
  | { readonly kind: "attention"; readonly heads: number; readonly kvHeads: number; readonly causal: boolean; readonly connection: CheckedConnection }
  | { readonly kind: "mlp"; readonly hidden: number; readonly act: Activation; readonly connection: CheckedConnection }
  | { readonly kind: "identity"; readonly connection: CheckedConnection };

const ACTIVATIONS: readonly Activation[] = ["gelu", "silu", "swiglu", "relu"];

function intArg(sub: CheckedSublayer, name: string): number {
  const v = sub.args[name];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new IrError(`model lowering: ${sub.kind}(${name}) is not a positive integer`);
  return v;
}

/** The block's sublayers as the lowering uses them (sema has checked the arguments). */
export function sublayerConfigs(model: CheckedModel): SublayerConfig[] {
  return model.block.map((sub): SublayerConfig => {
    if (sub.kind === "attention") {
      const heads = intArg(sub, "heads");
      const kvHeads = sub.args["kv_heads"] === undefined ? heads : intArg(sub, "kv_heads");
      if (model.dim % heads !== 0) throw new IrError(`model lowering: dim ${model.dim} is not a multiple of heads = ${heads}`);
      if (heads % kvHeads !== 0) throw new IrError(`model lowering: heads = ${heads} is not a multiple of kv_heads = ${kvHeads}`);
      return { kind: "attention", heads, kvHeads, causal: sub.args["causal"] !== false, connection: sub.connection };
    }
    if (sub.kind === "mlp") {
      const act = String(sub.args["act"] ?? "gelu");
      if (!(ACTIVATIONS as readonly string[]).includes(act)) throw new IrError(`model lowering: unknown activation ${act}`);
      return { kind: "mlp", hidden: intArg(sub, "hidden"), act: act as Activation, connection: sub.connection };
    }
    return { kind: "identity", connection: sub.connection };
  });
}

/** The stream count of the model; every sublayer's connection must have the same. */
export function modelStreams(model: CheckedModel): number {
  const n = concreteInt(model.connection.streams, "the stream count");
  for (const sub of model.block) {
    const m = concreteInt(sub.connection.streams, "the stream count");
    if (m !== n) throw new IrError(`model ${model.name}: \`${sub.connection.name}\` has ${m} streams, the model ${n}`);
  }
  return n;
}

/** Every parameter of the model, in the documented order, with concrete shapes. */
export function modelParameterSpecs(model: CheckedModel): ModelParameterSpec[] {
  const C = model.dim;
  const n = modelStreams(model);
  const out: ModelParameterSpec[] = [{ name: "embed.weight", shape: [model.vocab, C] }];
  if (model.expand === "learned") out.push({ name: "expand.scale", shape: [n, C] });
  const block = sublayerConfigs(model);
  for (let l = 0; l < model.layers; l++) {
    block.forEach((sub, s) => {
      const prefix = `layers.${l}.${s}.`;
      out.push({ name: `${prefix}norm.weight`, shape: [C] });
      if (sub.kind === "attention") {
        const kv = (C / sub.heads) * sub.kvHeads;
        out.push(
          { name: `${prefix}attn.wq`, shape: [C, C] },
          { name: `${prefix}attn.wk`, shape: [C, kv] },
          { name: `${prefix}attn.wv`, shape: [C, kv] },
          { name: `${prefix}attn.wo`, shape: [C, C] },
        );
      } else if (sub.kind === "mlp") {
        out.push({ name: `${prefix}mlp.w_in`, shape: [C, sub.hidden] });
        if (sub.act === "swiglu") out.push({ name: `${prefix}mlp.w_gate`, shape: [C, sub.hidden] });
        out.push({ name: `${prefix}mlp.w_out`, shape: [sub.hidden, C] });
      }
      for (const p of connectionParameters(sub.connection, C)) {
        out.push({ name: `${prefix}conn.${p.name}`, shape: p.shape.map((d) => concreteDim(d, p.name)) });
      }
    });
  }
  if (model.collapse === "gated") {
    out.push({ name: "head.phi", shape: [n * C, n] }, { name: "head.alpha", shape: [1] }, { name: "head.bias", shape: [n] });
  }
  out.push({ name: "final_norm.weight", shape: [C] });
  if (!model.tieEmbeddings) out.push({ name: "lm_head.weight", shape: [model.vocab, C] });
  return out;
}

function concreteDim(d: number | string, what: string): number {
  if (typeof d !== "number") throw new IrError(`model lowering: ${what} has a symbolic dimension ${d} at a concrete width`);
  return d;
}
