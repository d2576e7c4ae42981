import { CudaCodegenError } from "../codegen/cuda/emit-constraint.js";
import { planConnection, type ConnectionPlan } from "../codegen/cuda/plan.js";
import { connectionInfo, type MapInfo } from "../codegen/tfjs/connection-info.js";
import type { CheckResult } from "../driver.js";
import type { CheckedConnection, Slot } from "../sema/checked.js";
import { SLOTS } from "../sema/checked.js";
import { DotWriter, formatArgs, formatNumber } from "./dot.js";

const KERNEL_FILL = ["#e8f1fb", "#fdf1e3", "#e9f6ea"] as const;
const DATA_FILL = "#f4f4f4";

/** `sinkhorn(iters = 20, eps = 1e-6)`: a map's constraint with every argument. */
export function describeMap(m: MapInfo): string {
  const args = formatArgs(m.args);
  return `${m.mode} ${m.constraint}(${args})`;
}

/**
 * The picture of one connection's sublayer (design §1) laid out as the CUDA target
 * runs it (design §4.2): the prenorm GEMM, the coefficient kernel with the three
 * constraints and the pre-mix, the user's F, and the post kernel. A connection the
 * CUDA target does not take (e.g. per-stream projections) is drawn as plain maths
 * with the reason.
 */
export function connectionDot(result: CheckResult, conn: CheckedConnection): string {
  const info = connectionInfo(result.checked, result.sources, conn);
  let plan: ConnectionPlan | undefined;
  let unsupported: string | undefined;
  try {
    plan = planConnection(result, conn);
  } catch (e) {
    if (!(e instanceof CudaCodegenError)) throw e;
    unsupported = e.message;
  }
  const argText = formatArgs(info.args);
  const title = `connection ${info.name}(${argText}): n = ${info.n} streams` + (unsupported ? `\nCUDA target: ${unsupported}` : "");
  const dot = new DotWriter("connection", title);
  const n = info.n;

  const x = dot.node([`x  [T, ${n}, C]`, "residual streams (bf16 or fp32)"], { shape: "parallelogram", fill: DATA_FILL });
  const projected = SLOTS.filter((s) => info.maps[s].projection);
  const k = projected.reduce((sum, s) => sum + info.maps[s].k, 0);
  const cluster = (index: number, label: string, body: () => void) => (plan ? dot.cluster(label, KERNEL_FILL[index]!, body) : body());

  let proj: string | undefined;
  let rms: string | undefined;
  cluster(0, "kernel 1: prenorm GEMM (one pass over x)", () => {
    if (k > 0) proj = dot.node([`proj = xf @ [${projected.map((s) => `phi_${s}`).join(" | ")}]`, `[T, ${k}]  (${projected.map((s) => `${s} ${info.maps[s].k}`).join(", ")})`]);
    if (info.norm.kind !== "none") rms = dot.node([`r = sqrt(mean(xf²) + ${formatNumber(info.norm.eps)})`, info.norm.kind === "rms" ? `over all ${n}·C values` : "per stream"]);
  });
  if (proj) dot.edge(x, proj, `${info.projection === "flat" ? `[T, ${n}·C]` : `[T, ${n}, C] per stream`}`, { heavy: true });
  if (rms) dot.edge(x, rms, undefined, { heavy: true });

  const coefficient: Partial<Record<Slot, string>> = {};
  let u = "";
  cluster(1, "kernel 2: coefficients (constraints in registers) + pre-mix", () => {
    for (const slot of SLOTS) {
      const m = info.maps[slot];
      const ops = plan ? `, ${plan.maps[slot].fn.nodeCount} IR ops` : "";
      const shape = slot === "res" ? `[T, ${n}, ${n}]` : `[T, ${n}]`;
      const logits = m.mode === "static" ? "logits = bias" : `logits = alpha_${slot} · ${m.mode === "dynamic tanh" ? "tanh(proj/r)" : "proj/r"} + bias_${slot}`;
      coefficient[slot] = dot.node([`H_${slot} ${shape}`, describeMap(m), `${logits}  (k = ${m.k}${ops})`], { bold: slot === "res" });
      if (m.projection && proj) dot.edge(proj, coefficient[slot]!, `[T, ${m.k}]`);
      if (m.projection && rms) dot.edge(rms, coefficient[slot]!, undefined, { dashed: true });
    }
    u = dot.node(["u = Σᵢ H_pre[i] · x[i]", "[T, C]"]);
  });
  dot.edge(coefficient.pre!, u);
  dot.edge(x, u, undefined, { heavy: true });

  const f = dot.node(["f = F(u)", "the sublayer (attention, MLP, ...)"], { shape: "ellipse", fill: "#fff8c4" });
  dot.edge(u, f, "[T, C]");
  let post = "";
  cluster(2, "kernel 3: post", () => {
    post = dot.node(["y = H_res · x + H_postᵀ · f", `reads ${n + 1}·C, writes ${n}·C per token`]);
  });
  dot.edge(x, post, undefined, { heavy: true });
  dot.edge(f, post, "[T, C]");
  dot.edge(coefficient.res!, post);
  dot.edge(coefficient.post!, post);
  const y = dot.node([`y  [T, ${n}, C]`, "to the next sublayer"], { shape: "parallelogram", fill: DATA_FILL });
  dot.edge(post, y, undefined, { heavy: true });
  return dot.toString();
}

