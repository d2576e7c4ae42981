import type { TopLevelSpec } from "vega-lite";
import type { TrainResult } from "./trainer.js";

/**
 * Loss curves as a Vega-Lite line chart: training loss (thin) and eval loss (points and
 * thick line) per model, against the step; the unigram entropy of the corpus as a
 * dashed rule (the loss of a model that ignores context).
 */
export function lossCurveSpec(results: readonly TrainResult[], unigramEntropy?: number): TopLevelSpec {
  const values = results.flatMap((r) =>
    r.history.flatMap((h) => [
      { model: r.model, series: `${r.model} train`, kind: "train", step: h.step, loss: h.loss },
      ...(h.evalLoss !== undefined ? [{ model: r.model, series: `${r.model} eval`, kind: "eval", step: h.step, loss: h.evalLoss }] : []),
    ]),
  );
  const layers: object[] = [
    {
      mark: { type: "line", strokeWidth: 1, opacity: 0.6 },
      transform: [{ filter: "datum.kind === 'train'" }],
      encoding: { x: { field: "step", type: "quantitative", title: "step" }, y: { field: "loss", type: "quantitative", title: "cross-entropy (nats / byte)", scale: { zero: false } }, color: { field: "model", type: "nominal" } },
    },
    {
      mark: { type: "line", strokeWidth: 2.5, point: true },
      transform: [{ filter: "datum.kind === 'eval'" }],
      encoding: { x: { field: "step", type: "quantitative" }, y: { field: "loss", type: "quantitative" }, color: { field: "model", type: "nominal" } },
    },
  ];
  if (unigramEntropy !== undefined) {
    layers.push({ data: { values: [{ h: unigramEntropy }] }, mark: { type: "rule", strokeDash: [4, 4], color: "gray" }, encoding: { y: { field: "h", type: "quantitative" } } });
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: results.length === 1 ? `Loss of ${results[0]!.model} (thin: train, thick: eval; dashed: unigram entropy)` : "Loss curves (thin: train, thick: eval; dashed: unigram entropy)",
    width: 560,
    height: 320,
    data: { values },
    layer: layers,
  } as TopLevelSpec;
}
