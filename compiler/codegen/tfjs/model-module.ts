import { IrError } from "../../ir/errors.js";
import type { CheckedConnection, CheckedModel, CheckedSublayer } from "../../sema/checked.js";
import type { ConnectionInfo } from "./connection-info.js";
import { PHI_INIT_STD } from "./connection-module.js";
import { jsNumber } from "./templates.js";

/*
 * The TensorFlow.js module of one model (design.md §1, §2.4): token embedding,
 * `expand`, `layers x block` sublayers each wrapped by its connection's generated
 * `pre` / `post`, `collapse`, final RMSNorm, LM head. The module is mostly fixed
 * code driven by generated tables (the parameter list with shapes and inits, the
 * block's sublayer configurations, the per-sublayer bias inits), so that it reads
 * like a hand-written model. README.md ("Models") documents names and choices.
 */

/** Standard deviation of the normal init of embeddings and input projections (GPT-2's). */
export const WEIGHT_INIT_STD = 0.02;
/** The `eps` added to the gated collapse's weights (design.md §1: `sigmoid(...) + eps`). */
export const GATE_EPS = 1e-6;
/** RoPE base (rotate-half form on each head's D channels; no rotation when D is odd). */
export const ROPE_BASE = 10000;

export type ParameterInit =
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "fill"; readonly value: number }
  /** A connection's bias logits, from its `init` evaluated with this sublayer's `layer`. */
  | { readonly kind: "bias"; readonly values: readonly number[] };

export interface ModelParameter {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: ParameterInit;
}

/** One sublayer of the block, as the generated code configures it. */
export interface BlockEntry {
  readonly kind: CheckedSublayer["kind"];
  readonly heads?: number;
  readonly kvHeads?: number;
  readonly causal?: boolean;
  readonly hidden?: number;
  readonly act?: string;
  /** The import alias of its connection module. */
  readonly connection: string;
}

/** A connection module the model imports. */
export interface ModelConnection {
  readonly alias: string;
  /** File name in the output directory, e.g. `mhc_n4_iters20.ts`. */
  readonly file: string;
  readonly conn: CheckedConnection;
  /** Info at layer 0 (the module's own); per-sublayer biases come from `infoAt`. */
  readonly info: ConnectionInfo;
}

export interface ModelPlan {
  readonly model: CheckedModel;
  readonly n: number;
  readonly file: string;
  readonly connections: readonly ModelConnection[];
  readonly block: readonly BlockEntry[];
  readonly parameters: readonly ModelParameter[];
}

const ACTIVATIONS = ["gelu", "silu", "swiglu", "relu"] as const;

/** A connection instance's file stem: its name and arguments (`mhc_n4_iters20`), unique per instance. */
export function connectionStem(info: ConnectionInfo): string {
  const args = info.args.map(([k, v]) => `_${k}${String(v).replace(/[^A-Za-z0-9]/g, "_")}`).join("");
  return `${info.name}${args}`;
}

function concreteShape(shape: readonly (number | string)[], C: number): number[] {
  return shape.map((d) => {
    if (typeof d === "number") return d;
    const m = /^(?:(\d+)\s*\*\s*)?C$/.exec(d.replace(/\s+/g, ""));
    if (!m) throw new IrError(`tfjs codegen: unexpected parameter dimension ${d}`);
    return Number(m[1] ?? 1) * C;
  });
}

function intArg(sub: CheckedSublayer, name: string, fallback?: number): number {
  const v = sub.args[name];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v)) throw new IrError(`tfjs codegen: ${sub.kind}(${name}) is not an integer`);
  return v;
}

/**
 * Plans a model: its connection modules, block configuration and parameter list.
 * `infoAt(conn, layer)` is the connection's info with biases evaluated at sublayer index `layer`.
 */
export function planModel(model: CheckedModel, infoAt: (conn: CheckedConnection, layer: number) => ConnectionInfo): ModelPlan {
  const C = model.dim;
  const connections: ModelConnection[] = [];
  const byStem = new Map<string, ModelConnection>();
  const connectionOf = (conn: CheckedConnection): ModelConnection => {
    const info = infoAt(conn, 0);
    const stem = connectionStem(info);
    let entry = byStem.get(stem);
    if (!entry) {
      entry = { alias: `conn_${stem}`, file: `${stem}.ts`, conn, info };
      byStem.set(stem, entry);
      connections.push(entry);
    }
    return entry;
  };
  const block: BlockEntry[] = model.block.map((sub) => {
    const connection = connectionOf(sub.connection).alias;
    if (sub.kind === "attention") {
      const heads = intArg(sub, "heads");
      const kvHeads = intArg(sub, "kv_heads", heads);
      if (C % heads !== 0) throw new IrError(`tfjs codegen: dim ${C} is not divisible by heads = ${heads}`);
      if (heads % kvHeads !== 0) throw new IrError(`tfjs codegen: heads = ${heads} is not a multiple of kv_heads = ${kvHeads}`);
      return { kind: "attention", heads, kvHeads, causal: sub.args["causal"] !== false, connection };
    }
    if (sub.kind === "mlp") {
      const act = String(sub.args["act"] ?? "gelu");
      if (!(ACTIVATIONS as readonly string[]).includes(act)) throw new IrError(`tfjs codegen: unknown activation ${act}`);
      return { kind: "mlp", hidden: intArg(sub, "hidden"), act, connection };
    }
    return { kind: "identity", connection };
  });
  const n = connectionOf(model.connection).info.n;
  for (const c of connections) if (c.info.n !== n) throw new IrError(`tfjs codegen: model ${model.name} mixes ${n} and ${c.info.n} streams`);

  const sublayers = model.layers * model.block.length;
  const outStd = WEIGHT_INIT_STD / Math.sqrt(2 * Math.max(1, sublayers));
  const normal = (std: number): ParameterInit => ({ kind: "normal", std });
  const ones: ParameterInit = { kind: "fill", value: 1 };
  const parameters: ModelParameter[] = [{ name: "embed.weight", shape: [model.vocab, C], init: normal(WEIGHT_INIT_STD) }];
  if (model.expand === "learned") parameters.push({ name: "expand.scale", shape: [n, C], init: ones });
  for (let l = 0; l < model.layers; l++) {
    model.block.forEach((sub, s) => {
      const prefix = `layers.${l}.${s}.`;
      const cfg = block[s]!;
      parameters.push({ name: `${prefix}norm.weight`, shape: [C], init: ones });
      if (cfg.kind === "attention") {
        const kvWidth = (C / cfg.heads!) * cfg.kvHeads!;
        parameters.push(
          { name: `${prefix}attn.wq`, shape: [C, C], init: normal(WEIGHT_INIT_STD) },
          { name: `${prefix}attn.wk`, shape: [C, kvWidth], init: normal(WEIGHT_INIT_STD) },
          { name: `${prefix}attn.wv`, shape: [C, kvWidth], init: normal(WEIGHT_INIT_STD) },
          { name: `${prefix}attn.wo`, shape: [C, C], init: normal(outStd) },
        );
      } else if (cfg.kind === "mlp") {
        const H = cfg.hidden!;
        parameters.push({ name: `${prefix}mlp.w_in`, shape: [C, H], init: normal(WEIGHT_INIT_STD) });
        if (cfg.act === "swiglu") parameters.push({ name: `${prefix}mlp.w_gate`, shape: [C, H], init: normal(WEIGHT_INIT_STD) });
        parameters.push({ name: `${prefix}mlp.w_out`, shape: [H, C], init: normal(outStd) });
      }
      const info = infoAt(sub.connection, l * model.block.length + s);
      for (const p of info.parameters) {
        const shape = concreteShape(p.shape, C);
        const init: ParameterInit = p.name.startsWith("phi_")
          ? normal(PHI_INIT_STD)
          : p.name === "alpha"
            ? { kind: "fill", value: info.alpha }
            : { kind: "bias", values: info.maps[p.name.slice(5) as "pre" | "post" | "res"].bias };
        parameters.push({ name: `${prefix}conn.${p.name}`, shape, init });
      }
    });
  }
  if (model.collapse === "gated") {
    parameters.push(
      { name: "head.phi", shape: [n * C, n], init: normal(PHI_INIT_STD) },
      { name: "head.alpha", shape: [1], init: { kind: "fill", value: model.connection.alpha } },
      { name: "head.bias", shape: [n], init: { kind: "fill", value: 0 } },
    );
  }
  parameters.push({ name: "final_norm.weight", shape: [C], init: ones });
  if (!model.tieEmbeddings) parameters.push({ name: "lm_head.weight", shape: [model.vocab, C], init: normal(WEIGHT_INIT_STD) });
  return { model, n, file: `${model.name}.model.ts`, connections, block, parameters };
}

const q = (s: string): string => JSON.stringify(s);

function initLiteral(init: ParameterInit): string {
  switch (init.kind) {
    case "normal":
      return `{ kind: "normal", std: ${jsNumber(init.std)} }`;
    case "fill":
      return `{ kind: "fill", value: ${jsNumber(init.value)} }`;
    case "bias":
      return `{ kind: "bias", values: [${init.values.map(jsNumber).join(", ")}] }`;
  }
}

function blockLiteral(b: BlockEntry): string {
  const fields = [`kind: ${q(b.kind)}`];
  if (b.kind === "attention") fields.push(`heads: ${b.heads}`, `kvHeads: ${b.kvHeads}`, `causal: ${String(b.causal)}`);
  if (b.kind === "mlp") fields.push(`hidden: ${b.hidden}`, `act: ${q(b.act!)}`);
  fields.push(`connection: ${b.connection}`);
  return `{ ${fields.join(", ")} }`;
}

/** The model module's TypeScript source (unformatted). */
export function modelModuleSource(plan: ModelPlan, ctx: { entry: string; compilerVersion: string }): string {
  const { model, n } = plan;
  const C = model.dim;
  const blockDoc = plan.block.map((b, s) => {
    const sub = model.block[s]!;
    const args = Object.entries(sub.args).map(([k, v]) => `${k} = ${String(v)}`).join(", ");
    const conn = plan.connections.find((c) => c.alias === b.connection)!;
    return ` *     ${s}: ${sub.kind}(${args}) with ${conn.info.name}(${conn.info.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ")})`;
  });
  const count = plan.parameters.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
  const L: string[] = [];
  L.push(
    `/**`,
    ` * Model \`${model.name}\` of ${ctx.entry}, compiled for TensorFlow.js.`,
    ` * Generated by mhc-lang ${ctx.compilerVersion} (\`mhc compile --target tfjs\`); do not edit.`,
    ` *`,
    ` *   vocab ${model.vocab}, dim ${C}, context ${model.context}, layers ${model.layers}, streams ${n}`,
    ` *   expand ${model.expand}, collapse ${model.collapse}, norm_eps ${jsNumber(model.normEps)}, tie_embeddings ${String(model.tieEmbeddings)}, dropout ${jsNumber(model.dropout)} (training mode only)`,
    ` *   block (each sublayer has its own RMSNorm with weight before F):`,
    ...blockDoc,
    ` *   ${count} parameters`,
    ` *`,
    ` * forward(params, tokens [B, T], options?) -> logits [B, T, vocab]; loss(params, tokens [B, T + 1], options?)`,
    ` * -> mean next-token cross-entropy (nats). Eval mode by default; { training: true, seed } applies dropout`,
    ` * (when the model has some). The residual is [B * T, n, C] (batch folded into tokens) for the`,
    ` * connections' pre / post; attention sees [B, heads, T, D]. Weights are [in, out] (x @ W) except`,
    ` * embed.weight and lm_head.weight, [vocab, dim]. Every function runs inside tf.tidy.`,
    ` */`,
    `import * as tf from "@tensorflow/tfjs-core";`,
    ...plan.connections.map((c) => `import * as ${c.alias} from "./${c.file.replace(/\.ts$/, ".js")}";`),
    ``,
    `export const model = ${q(model.name)};`,
    `export const config = { vocab: ${model.vocab}, dim: ${C}, context: ${model.context}, layers: ${model.layers}, streams: ${n}, expand: ${q(model.expand)}, collapse: ${q(model.collapse)}, normEps: ${jsNumber(model.normEps)}, tieEmbeddings: ${String(model.tieEmbeddings)}, dropout: ${jsNumber(model.dropout)} } as const;`,
    `const V = config.vocab;`,
    `const C = config.dim;`,
    `const N = config.streams;`,
    `const NORM_EPS = config.normEps;`,
    `/** The dropout rate of training mode (a number, whatever the model's value). */`,
    `const DROPOUT: number = config.dropout;`,
    `/** Added to the gated collapse's sigmoid weights. */`,
    `const GATE_EPS = ${jsNumber(GATE_EPS)};`,
    `const ROPE_BASE = ${ROPE_BASE};`,
    ``,
    `export type ParameterInit = { kind: "normal"; std: number } | { kind: "fill"; value: number } | { kind: "bias"; values: readonly number[] };`,
    `/** Every parameter, in a fixed order, with its shape and initialisation (biases evaluated per sublayer index). */`,
    `export const parameterSpecs: readonly { name: string; shape: readonly number[]; init: ParameterInit }[] = [`,
    ...plan.parameters.map((p) => `  { name: ${q(p.name)}, shape: [${p.shape.join(", ")}], init: ${initLiteral(p.init)} },`),
    `];`,
    `export type Parameters = Readonly<Record<string, tf.Tensor>>;`,
    ``,
    `type Connection = { parameterSpecs: readonly { name: string }[]; pre(p: never, x: tf.Tensor3D): { u: tf.Tensor2D }; post(p: never, x: tf.Tensor3D, f: tf.Tensor2D, state: never): tf.Tensor3D };`,
    `type Sublayer = { kind: "attention"; heads: number; kvHeads: number; causal: boolean; connection: Connection } | { kind: "mlp"; hidden: number; act: "gelu" | "silu" | "swiglu" | "relu"; connection: Connection } | { kind: "identity"; connection: Connection };`,
    `/** The block, repeated config.layers times. */`,
    `const BLOCK: readonly Sublayer[] = [${plan.block.map(blockLiteral).join(", ")}];`,
    ``,
  );
  L.push(MODEL_BODY);
  return L.join("\n") + "\n";
}

/** The fixed part of every model module (it reads the tables above). */
const MODEL_BODY = String.raw`
/**
 * Fresh parameters: normals from tf.randomNormal seeded per parameter (seed * 65536 + index + 1:
 * the same values on every backend; never 0, which tfjs takes as "no seed"), fills, and the
 * connections' bias logits.
 */
export function initParameters(seed = 0): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  parameterSpecs.forEach((spec, i) => {
    const shape = [...spec.shape];
    const init = spec.init;
    out[spec.name] =
      init.kind === "normal"
        ? tf.randomNormal(shape, 0, init.std, "float32", seed * 65536 + i + 1)
        : init.kind === "fill"
          ? tf.fill(shape, init.value, "float32")
          : tf.tensor(init.values as number[], shape, "float32");
  });
  return out;
}

/** Training mode applies dropout with masks drawn from the seed; eval mode (the default) never does. */
export type ForwardOptions = { training?: boolean; seed?: number | string };

/** Inverted dropout of x at one named site: the mask is drawn from the run's seed and the site's name. */
type Dropout = (x: tf.Tensor, site: string) => tf.Tensor;

/**
 * The dropout of a call: none in eval mode or at rate 0. Sites (as in GPT-2): the embedding, each
 * attention's probabilities, and each sublayer's output F(u) before its connection's post.
 */
function dropoutFor(options: ForwardOptions | undefined): Dropout | undefined {
  if (options?.training !== true || DROPOUT === 0) return undefined;
  const seed = String(options.seed ?? 0);
  return (x, site) => {
    const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", seed + "/" + site), DROPOUT), "float32");
    return tf.mul(x, tf.mul(keep, 1 / (1 - DROPOUT)));
  };
}

function param(params: Parameters, name: string): tf.Tensor {
  const t = params[name];
  if (t === undefined) throw new Error(model + ": parameter " + name + " is missing");
  return t;
}

/** Checks that every parameter is present with its float32 shape (and nothing else is). */
export function checkParameters(params: Parameters): void {
  for (const spec of parameterSpecs) {
    const t = param(params, spec.name);
    const ok = t.dtype === "float32" && t.rank === spec.shape.length && t.shape.every((d, i) => d === spec.shape[i]);
    if (!ok) throw new Error(model + ": " + spec.name + " is " + t.dtype + " [" + t.shape.join(", ") + "], expected float32 [" + spec.shape.join(", ") + "]");
  }
}

/*
 * Products with a weight, with their gradients written out. tfjs's own gradient of
 * x @ W multiplies transposed operands (dy @ W^T, x^T @ dy); tfjs-backend-wasm runs those
 * about ten times slower than untransposed ones at these sizes (only the untransposed form
 * takes its XNNPACK path), so on wasm the transposes are made explicitly. The forward is
 * the plain tf.matMul either way.
 */
const explicitTransposes = (): boolean => tf.getBackend() === "wasm";

/** x [rows, in] @ W [in, out]. */
const linear = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return explicitTransposes() ? [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g)] : [tf.matMul(g, ws, false, true), tf.matMul(xs, g, true, false)];
    },
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor2D;

/** x [rows, in] @ W^T for W [out, in] (the LM head's [vocab, dim] weight). */
const linearTransposed = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w, false, true),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, ws), explicitTransposes() ? tf.matMul(tf.transpose(g), xs) : tf.matMul(g, xs, true, false)];
    },
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor2D;

/** RMSNorm over the last axis with a learned weight. */
function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor): tf.Tensor2D {
  const inv = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), NORM_EPS));
  return tf.mul(tf.mul(x, inv), weight);
}

// Tables of constants, computed once per length in JavaScript (tensors are made per call).
const maskCache = new Map<number, Float32Array>();
function causalMask(T: number): tf.Tensor2D {
  let values = maskCache.get(T);
  if (!values) {
    values = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) values[i * T + j] = -1e9;
    maskCache.set(T, values);
  }
  return tf.tensor(values, [T, T], "float32") as tf.Tensor2D;
}

const ropeCache = new Map<string, { cos: Float32Array; sin: Float32Array }>();
/** cos / sin [T, D] for rotate-half RoPE: angle t * ROPE_BASE^(-2j / D) on channels j and j + D/2. */
function ropeTables(T: number, D: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const key = T + "x" + D;
  let t = ropeCache.get(key);
  if (!t) {
    const cos = new Float32Array(T * D);
    const sin = new Float32Array(T * D);
    const half = D / 2;
    for (let p = 0; p < T; p++) {
      for (let j = 0; j < half; j++) {
        const angle = p * Math.pow(ROPE_BASE, (-2 * j) / D);
        cos[p * D + j] = cos[p * D + j + half] = Math.cos(angle);
        sin[p * D + j] = sin[p * D + j + half] = Math.sin(angle);
      }
    }
    t = { cos, sin };
    ropeCache.set(key, t);
  }
  return { cos: tf.tensor(t.cos, [T, D], "float32") as tf.Tensor2D, sin: tf.tensor(t.sin, [T, D], "float32") as tf.Tensor2D };
}

/** Rotary position embedding of x [B, H, T, D] (rotate-half); identity when D is odd. */
function rope(x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, T, D] = x.shape;
  if (D % 2 !== 0) return x;
  const half = D / 2;
  const { cos, sin } = ropeTables(T, D);
  const x1 = tf.slice(x, [0, 0, 0, 0], [B, H, T, half]);
  const x2 = tf.slice(x, [0, 0, 0, half], [B, H, T, half]);
  const rotated = tf.concat([tf.neg(x2), x1], 3);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

/** Causal multi-head attention on h [B * T, C]; kv heads are repeated to the query heads. */
function attention(params: Parameters, prefix: string, h: tf.Tensor2D, B: number, T: number, heads: number, kvHeads: number, causal: boolean, drop?: Dropout): tf.Tensor2D {
  const D = C / heads;
  const split = (t: tf.Tensor2D, count: number): tf.Tensor4D => tf.transpose(tf.reshape(t, [B, T, count, D]), [0, 2, 1, 3]);
  const repeat = (t: tf.Tensor4D): tf.Tensor4D => {
    if (kvHeads === heads) return t;
    // rank 3 (tfjs has no Tile gradient above rank 4): query head h reads kv head floor(h / (heads / kvHeads))
    const wide = tf.broadcastTo(tf.reshape(t, [B * kvHeads, 1, T * D]), [B * kvHeads, heads / kvHeads, T * D]);
    return tf.reshape(wide, [B, heads, T, D]);
  };
  const q = rope(split(linear(h, param(params, prefix + "attn.wq")), heads));
  const k = repeat(rope(split(linear(h, param(params, prefix + "attn.wk")), kvHeads)));
  const v = repeat(split(linear(h, param(params, prefix + "attn.wv")), kvHeads));
  let scores: tf.Tensor4D = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D));
  if (causal) scores = tf.add(scores, causalMask(T));
  let probs: tf.Tensor4D = tf.softmax(scores);
  if (drop) probs = drop(probs, prefix + "attn") as tf.Tensor4D;
  const o = tf.matMul(probs, v);
  const merged = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B * T, C]) as tf.Tensor2D;
  return linear(merged, param(params, prefix + "attn.wo"));
}

/** GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.square(x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

function silu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.sigmoid(x));
}

/** MLP on h [B * T, C]: act(h @ w_in) @ w_out, or swiglu: (silu(h @ w_gate) * (h @ w_in)) @ w_out. */
function mlp(params: Parameters, prefix: string, h: tf.Tensor2D, act: "gelu" | "silu" | "swiglu" | "relu"): tf.Tensor2D {
  const up = linear(h, param(params, prefix + "mlp.w_in"));
  const hidden =
    act === "swiglu"
      ? tf.mul(silu(linear(h, param(params, prefix + "mlp.w_gate"))), up)
      : act === "gelu"
        ? gelu(up)
        : act === "silu"
          ? silu(up)
          : tf.relu(up);
  return linear(hidden, param(params, prefix + "mlp.w_out"));
}

/** F of one sublayer: its RMSNorm, then attention, MLP or nothing. */
function sublayerF(params: Parameters, prefix: string, sub: Sublayer, u: tf.Tensor2D, B: number, T: number, drop?: Dropout): tf.Tensor2D {
  const h = rmsNorm(u, param(params, prefix + "norm.weight"));
  if (sub.kind === "attention") return attention(params, prefix, h, B, T, sub.heads, sub.kvHeads, sub.causal, drop);
  if (sub.kind === "mlp") return mlp(params, prefix, h, sub.act);
  return h;
}

/** The connection's own parameters (phi_pre, ..., bias_res) from the model's, by prefix. */
function connectionParameters(params: Parameters, prefix: string, connection: Connection): never {
  const out: Record<string, tf.Tensor> = {};
  for (const spec of connection.parameterSpecs) out[spec.name] = param(params, prefix + "conn." + spec.name);
  return out as never;
}

/** expand: n copies of the embedding (repeat), or copies scaled per stream and channel (learned). */
function expand(params: Parameters, e: tf.Tensor2D): tf.Tensor3D {
  const rows = e.shape[0];
  const copies = tf.mul(tf.reshape(e, [rows, 1, C]), tf.fill([1, N, 1], 1, "float32")) as tf.Tensor3D;
  return (config.expand as string) === "learned" ? tf.mul(copies, param(params, "expand.scale")) : copies;
}

/** collapse of x [B * T, n, C] to [B * T, C] (design.md §1). */
function collapse(params: Parameters, x: tf.Tensor3D): tf.Tensor2D {
  const rows = x.shape[0];
  switch (config.collapse as string) {
    case "sum":
      return tf.sum(x, 1);
    case "mean":
      return tf.mean(x, 1);
    case "first":
      return tf.reshape(tf.slice(x, [0, 0, 0], [rows, 1, C]), [rows, C]);
    default: {
      // gated: w = sigmoid(alpha * (xf @ phi) / r + bias) + eps, r = sqrt(mean(xf^2) + norm_eps)
      const xf = tf.reshape(x, [rows, N * C]) as tf.Tensor2D;
      const r = tf.sqrt(tf.add(tf.mean(tf.square(xf), -1, true), NORM_EPS));
      const proj = tf.div(linear(xf, param(params, "head.phi")), r);
      const w = tf.add(tf.sigmoid(tf.add(tf.mul(param(params, "head.alpha"), proj), param(params, "head.bias"))), GATE_EPS);
      return tf.sum(tf.mul(x, tf.reshape(w, [rows, N, 1])), 1);
    }
  }
}

function checkTokens(tokens: tf.Tensor, what: string, maxT: number): void {
  if (tokens.rank !== 2 || tokens.dtype !== "int32") throw new Error(model + ": " + what + " is " + tokens.dtype + " [" + tokens.shape.join(", ") + "], expected int32 [B, T]");
  const T = tokens.shape[1] as number;
  if (T < 1 || T > maxT) throw new Error(model + ": " + what + " has " + T + " tokens per row, expected 1 to " + maxT);
}

/** Logits [B, T, vocab] for tokens [B, T] (int32, T <= context); eval mode unless options.training. */
export function forward(params: Parameters, tokens: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D {
  checkTokens(tokens, "tokens", config.context);
  const drop = dropoutFor(options);
  return tf.tidy(() => {
    const [B, T] = tokens.shape;
    const rows = B * T;
    const embed = param(params, "embed.weight") as tf.Tensor2D;
    // one-hot rows @ embedding: differentiable on every backend (GatherV2's gradient needs a kernel wasm lacks)
    const onehot = tf.cast(tf.oneHot(tf.reshape(tokens, [rows]) as tf.Tensor1D, V), "float32") as tf.Tensor2D;
    let e = linear(onehot, embed);
    if (drop) e = drop(e, "embed") as tf.Tensor2D;
    let x = expand(params, e);
    for (let l = 0; l < config.layers; l++) {
      BLOCK.forEach((sub, s) => {
        const prefix = "layers." + l + "." + s + ".";
        const cp = connectionParameters(params, prefix, sub.connection);
        const state = sub.connection.pre(cp, x);
        let f = sublayerF(params, prefix, sub, state.u, B, T, drop);
        if (drop) f = drop(f, prefix + "out") as tf.Tensor2D;
        x = sub.connection.post(cp, x, f, state as never);
      });
    }
    const h = rmsNorm(collapse(params, x), param(params, "final_norm.weight"));
    const head = param(params, config.tieEmbeddings ? "embed.weight" : "lm_head.weight") as tf.Tensor2D;
    return tf.reshape(linearTransposed(h, head), [B, T, V]) as tf.Tensor3D;
  });
}

/** Mean next-token cross-entropy (nats) of tokens [B, T + 1]: predicts tokens[:, 1:] from tokens[:, :-1]. */
export function loss(params: Parameters, tokens: tf.Tensor2D, options?: ForwardOptions): tf.Scalar {
  checkTokens(tokens, "tokens", config.context + 1);
  return tf.tidy(() => {
    const [B, T1] = tokens.shape;
    const T = T1 - 1;
    if (T < 1) throw new Error(model + ": loss needs at least 2 tokens per row");
    const input = tf.slice(tokens, [0, 0], [B, T]);
    const target = tf.reshape(tf.slice(tokens, [0, 1], [B, T]), [B * T]) as tf.Tensor1D;
    const logits = tf.reshape(forward(params, input, options), [B * T, V]);
    const picked = tf.sum(tf.mul(logits, tf.cast(tf.oneHot(target, V), "float32")), -1);
    return tf.mean(tf.sub(tf.logSumExp(logits, -1), picked)) as tf.Scalar;
  });
}
`;
