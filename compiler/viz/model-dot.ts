import { connectionInfo } from "../codegen/tfjs/connection-info.js";
import type { CheckResult } from "../driver.js";
import { modelParameterSpecs, modelStreams, sublayerConfigs, type SublayerConfig } from "../lower/model-parameters.js";
import type { CheckedModel } from "../sema/checked.js";
import { SLOTS } from "../sema/checked.js";
import { describeMap } from "./connection-dot.js";
import { DotWriter, formatArgs } from "./dot.js";

const STREAM_FILL = "#f4f4f4";
const BLOCK_FILL = "#eef3fa";

const count = (x: number) => x.toLocaleString("en-US");

function sublayerTitle(s: SublayerConfig): string {
  if (s.kind === "attention") return `attention(heads = ${s.heads}, kv_heads = ${s.kvHeads}${s.causal ? "" : ", causal = false"})`;
  if (s.kind === "mlp") return `mlp(hidden = ${s.hidden}, act = ${s.act})`;
  return "identity()";
}

/**
 * The picture of a model: embedding, expansion into n streams, one layer's block
 * (every layer has the same sublayers; each drawn with its connection and the
 * constraint of each map), collapse, final norm and head, with parameter counts
 * and the shapes that flow between them.
 */
export function modelDot(result: CheckResult, model: CheckedModel): string {
  const n = modelStreams(model);
  const C = model.dim;
  const specs = modelParameterSpecs(model);
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const total = specs.reduce((sum, s) => sum + size(s.shape), 0);
  const paramsWith = (prefix: string) => specs.filter((s) => s.name.startsWith(prefix)).reduce((sum, s) => sum + size(s.shape), 0);

  const dot = new DotWriter("model", `model ${model.name}\n${count(total)} parameters, n = ${n} streams, dim ${C}, context ${model.context}`);
  const tokens = dot.node(["tokens  [T]", `vocabulary ${model.vocab}`], { shape: "parallelogram", fill: STREAM_FILL });
  const embed = dot.node(["embedding", `embed.weight [${model.vocab}, ${C}]  (${count(paramsWith("embed."))})`]);
  dot.edge(tokens, embed);
  const expand = dot.node([`expand ${model.expand}`, model.expand === "learned" ? `expand.scale [${n}, ${C}]` : `${n} copies of the embedding`]);
  dot.edge(embed, expand, `[T, ${C}]`);

  let previous = expand;
  const sublayers = sublayerConfigs(model);
  dot.cluster(`block × ${model.layers} layers\n(layer 0; ${count(paramsWith("layers.0."))} parameters a layer)`, BLOCK_FILL, () => {
    sublayers.forEach((s, index) => {
      const info = connectionInfo(result.checked, result.sources, s.connection);
      const args = formatArgs(info.args);
      const maps = SLOTS.map((slot) => `${slot}: ${describeMap(info.maps[slot])}`);
      const node = dot.node(
        [`${index}: RMSNorm → ${sublayerTitle(s)}`, `with ${info.name}(${args})`, ...maps, `${count(paramsWith(`layers.0.${index}.`))} parameters (connection ${count(paramsWith(`layers.0.${index}.conn.`))})`],
        { bold: true },
      );
      dot.edge(previous, node, `x [T, ${n}, ${C}]`, { heavy: true });
      previous = node;
    });
  });

  const collapse = dot.node([`collapse ${model.collapse}`, model.collapse === "gated" ? `head.phi [${n * C}, ${n}], head.alpha, head.bias` : `streams → [T, ${C}]`]);
  dot.edge(previous, collapse, `x [T, ${n}, ${C}]`, { heavy: true });
  const norm = dot.node(["final RMSNorm", `final_norm.weight [${C}]`]);
  dot.edge(collapse, norm, `[T, ${C}]`);
  const head = dot.node(["LM head", model.tieEmbeddings ? "tied to embed.weight" : `lm_head.weight [${model.vocab}, ${C}]`]);
  dot.edge(norm, head, `[T, ${C}]`);
  const logits = dot.node([`logits  [T, ${model.vocab}]`], { shape: "parallelogram", fill: STREAM_FILL });
  dot.edge(head, logits);
  return dot.toString();
}
