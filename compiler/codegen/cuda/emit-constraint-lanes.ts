import type { Graph } from "../../ir/graph.js";
import { reachableNodes } from "../../ir/interpret.js";
import type { Node } from "../../ir/node.js";
import { printNode } from "../../ir/print.js";
import { isConcreteShape, positiveAxis } from "../../ir/shape.js";
import type { SourceSet } from "../../source/source-set.js";
import { constantValue, CudaCodegenError, floatLiteral, indent, LINE_RESTORE } from "./emit-constraint.js";
import { LANE_REP_MAX_FLOATS, REROLL_MAX_PERIOD, REROLL_MIN_REPEATS } from "./knobs.js";
import { normalOperands } from "./normal-divisors.js";
import { bodyInputs, findLoops, loopFrame, type RerolledLoop } from "./reroll.js";
import { CUDA_TEMPLATES, type Operand, type Template } from "./templates.js";

/*
 * The per-token constraint on a group of G lanes (G a power of two, G <= 32) instead of one
 * thread: the lane-group twin of emit-constraint.ts, generated from the same IR for any
 * constraint. Every value has a layout:
 *
 *   dist(a)  axis a has extent G and is spread over the group: lane r holds the slice at index r
 *            of axis a, a local array of the other axes (row-major). An n x n matrix is n floats a lane.
 *   rep      every lane holds the whole value (scalars, vectors, the [1, n] column sums), computed
 *            redundantly with the same operations, so with the same bits on every lane.
 *
 * Elementwise ops, broadcasts, transposes, slices and reductions that keep the distributed axis are
 * the per-thread templates (templates.ts) applied to the lanes' local arrays. Reductions and softmax
 * over the distributed axis reduce locally, then across the group by an xor butterfly (mhc_lanes.cuh:
 * the same bits on every lane, the same order on every run); matmul reads the other lanes' rows or
 * columns with shuffles. What the emitter has no lane form for (a layout it cannot keep, a large
 * replicated value, a batched matmul) is rejected with a reason, and the caller keeps the
 * per-thread function.
 */

/** How a value is spread over the group. */
export type LaneLayout = { readonly kind: "rep" } | { readonly kind: "dist"; readonly axis: number };

/** A lane-group constraint function and how its caller fills L and reads H. */
export interface LaneConstraintFunction {
  readonly name: string;
  readonly group: number;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly usesInput: boolean;
  /** Per lane: floats of L and H, and the flat index into the whole L / H of local element `j` (an expression in `j` and `r`). */
  readonly inputLocal: number;
  readonly outputLocal: number;
  inputIndex(j: string): string;
  outputIndex(j: string): string;
  readonly inputLayout: LaneLayout;
  readonly outputLayout: LaneLayout;
  /** Namespace-scope declarations (literal tables). */
  readonly globals: readonly string[];
  /** The `__device__` function `NAME(const float (&L)[..], float (&H)[..], const int r)`, r the lane in the group. */
  readonly lines: readonly string[];
  readonly nodeCount: number;
  /** Loops rerolled (a source `repeat` emitted once). */
  readonly loops: number;
}

export type LaneEmitResult = { readonly ok: true; readonly fn: LaneConstraintFunction } | { readonly ok: false; readonly reason: string };

export interface EmitLanesOptions {
  readonly name: string;
  /** Lanes per group (the stream count n): a power of two, at most 32. */
  readonly group: number;
  readonly sources?: SourceSet;
  readonly title?: string;
  /** Emit repeated runs of nodes as rolled loops (reroll.ts), as the per-thread emitter does. */
  readonly reroll?: boolean;
}

/** An emitter limitation: the graph keeps its per-thread function. */
class LaneReject extends Error {}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const without = <T>(xs: readonly T[], i: number): T[] => xs.filter((_, k) => k !== i);
const sameLayout = (a: LaneLayout, b: LaneLayout): boolean => a.kind === b.kind && (a.kind === "rep" || a.axis === (b as { axis: number }).axis);

/** A value as the lanes hold it. `indexable`: a rep value readable at a lane-dependent offset (a literal or a table in memory). */
interface LaneValue {
  readonly shape: readonly number[];
  readonly layout: LaneLayout;
  readonly indexable: boolean;
  at(offset: string): string;
}

/** Floats one lane holds of `shape` in `layout`. */
function localShape(shape: readonly number[], layout: LaneLayout): number[] {
  return layout.kind === "rep" ? [...shape] : without(shape, layout.axis);
}

/** The flat index into the whole value of local element `j` of a dist(axis) value (lane `r`). */
export function distIndex(shape: readonly number[], axis: number, group: number, j: string): string {
  const suffix = size(shape.slice(axis + 1));
  const prefix = size(shape.slice(0, axis));
  const lane = suffix === 1 ? "r" : `r * ${suffix}`;
  if (prefix === 1) return suffix === 1 ? "r" : `${lane} + ${j}`;
  if (suffix === 1) return `${j} * ${group} + r`;
  return `(${j}) / ${suffix} * ${group * suffix} + ${lane} + (${j}) % ${suffix}`;
}

const UNARY_OR_BINARY = new Set([
  "neg", "exp", "log", "sigmoid", "tanh", "abs", "sign", "sqrt", "rsqrt", "square", "relu", "softplus", "recip",
  "add", "sub", "mul", "div", "max", "min", "pow", "gt", "ge", "lt", "le", "eq", "where", "cast", "broadcast_to",
]);
const REDUCTIONS = new Set(["sum", "mean", "amax", "amin", "logsumexp"]);

/**
 * Emits `graph` (input L, output H, concrete shapes: batch []) for a group of `options.group` lanes,
 * or says why it cannot. Deterministic: the text depends only on the graph and the options.
 */
export function emitConstraintLanes(graph: Graph, options: EmitLanesOptions): LaneEmitResult {
  const G = options.group;
  if (G < 2 || G > 32 || (G & (G - 1)) !== 0) return { ok: false, reason: `a group of ${G} lanes (a power of two from 2 to 32 is needed)` };
  const output = graph.findOutput("H");
  if (!output || graph.outputs.length !== 1) throw new CudaCodegenError("constraint graph must have exactly one output named H");
  const nodes = reachableNodes([output]);
  for (const node of nodes) {
    if (!isConcreteShape(node.shape)) throw new CudaCodegenError(`constraint graph node %${node.id} (${node.op}) has symbolic shape [${node.shape.join(", ")}]; build it with batch []`);
  }
  try {
    const plain = emit(graph, nodes, output, options, []);
    if (!options.reroll) return { ok: true, fn: plain.fn };
    const loops = consistentLoops(nodes, output, plain.layouts);
    if (loops.length === 0) return { ok: true, fn: plain.fn };
    try {
      return { ok: true, fn: emit(graph, nodes, output, options, loops, plain.layouts).fn };
    } catch (e) {
      if (e instanceof LaneReject) return { ok: true, fn: plain.fn };
      throw e;
    }
  } catch (e) {
    if (e instanceof LaneReject) return { ok: false, reason: e.message };
    throw e;
  }
}

/** The rerolled loops whose copies give every body node one layout (so a rolled body has one text). */
function consistentLoops(nodes: readonly Node[], output: Node, layouts: ReadonlyMap<Node, LaneLayout>): RerolledLoop[] {
  const position = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  const lastUse = new Map<Node, number>();
  for (const node of nodes) for (const i of node.inputs) lastUse.set(i, position.get(node) as number);
  lastUse.set(output, Infinity);
  const found = findLoops(nodes, lastUse, (n) => n.op !== "input" && n.op !== "const", REROLL_MIN_REPEATS, REROLL_MAX_PERIOD);
  return found.filter((loop) => {
    for (let k = 0; k < loop.period; k++) {
      const first = layouts.get(nodes[loop.start + k] as Node) as LaneLayout;
      for (let c = 1; c < loop.count; c++) if (!sameLayout(first, layouts.get(nodes[loop.start + c * loop.period + k] as Node) as LaneLayout)) return false;
    }
    for (const [q, init] of loop.init) if (!sameLayout(layouts.get(init) as LaneLayout, layouts.get(nodes[loop.start + q] as Node) as LaneLayout)) return false;
    return true;
  });
}

function emit(graph: Graph, nodes: readonly Node[], output: Node, options: EmitLanesOptions, loops: readonly RerolledLoop[], prior?: ReadonlyMap<Node, LaneLayout>): { fn: LaneConstraintFunction; layouts: Map<Node, LaneLayout> } {
  const G = options.group;
  const fn = options.name;
  const input = graph.findInput("L");
  const inputShape = (input?.shape ?? []) as readonly number[];
  const usesInput = nodes.some((n) => n.op === "input");
  const outputShape = output.shape as readonly number[];
  const inputLayout: LaneLayout = inputShape.length >= 1 && inputShape[0] === G ? { kind: "dist", axis: 0 } : { kind: "rep" };
  if (inputLayout.kind === "rep" && size(inputShape) > LANE_REP_MAX_FLOATS) throw new LaneReject(`logits [${inputShape.join(", ")}] have no axis of ${G} leading`);

  const values = new Map<Node, LaneValue>();
  const layouts = new Map<Node, LaneLayout>();
  const isNormal = normalOperands(nodes, loops);
  const globals: string[] = [];
  const body: string[] = [];
  let lastLine = "";
  let anyLine = false;
  let temp = 0;
  const fresh = (stem: string): string => `${stem}${temp++}`;
  const lineOf = (node: Node): string | undefined => {
    if (!node.span || !options.sources) return undefined;
    const file = options.sources.get(node.span.file);
    if (!file) return undefined;
    return `#line ${file.positionAt(node.span.start).line} ${JSON.stringify(node.span.file)}`;
  };
  const unroll = (n: number, v: string, stmt: string): string[] => (n === 1 ? ["{", `const int ${v} = 0;`, stmt, "}"] : ["#pragma unroll", `for (int ${v} = 0; ${v} < ${n}; ++${v}) ${stmt}`]);
  const arrayOf = (name: string, shape: readonly number[], layout: LaneLayout): LaneValue => ({ shape, layout, indexable: false, at: (o) => `${name}[${o}]` });
  const checkRep = (node: Node, shape: readonly number[]): void => {
    if (size(shape) > LANE_REP_MAX_FLOATS) throw new LaneReject(`%${node.id} (${node.op}) would be replicated on every lane with ${size(shape)} floats`);
  };

  /**
   * `x` as the template operand of a dist op whose output has the distributed axis `b` (rank `rank`):
   * a dist value's local array; a rep value that broadcasts along b as it is (the extent-1 axis
   * dropped); a rep value with extent G there, lane r's slice of it (read in place when indexable,
   * else selected into a local array).
   */
  const localOperand = (x: LaneValue, b: number, rank: number): Operand => {
    const a = b - (rank - x.shape.length);
    if (x.layout.kind === "dist") {
      if (x.layout.axis !== a) throw new LaneReject("operands distributed along different axes");
      return { shape: without(x.shape, a), at: x.at };
    }
    if (a < 0) return { shape: x.shape, at: x.at };
    if (x.shape[a] === 1) return { shape: without(x.shape, a), at: x.at };
    const local = without(x.shape, a);
    const n = size(local);
    if (x.indexable) return { shape: local, at: (o) => x.at(distIndex(x.shape, a, G, o)) };
    const name = fresh("z");
    // Element j of slice q, selected where q == r: the unrolled q makes every index a constant.
    const slice = (q: string): string => x.at(distIndex(x.shape, a, G, "j").replaceAll("r", q));
    body.push(`float ${name}[${n}];  // lane r's slice of a replicated value`, ...unroll(n, "j", `${name}[j] = ${slice("0")};`));
    body.push("#pragma unroll", `for (int q = 1; q < ${G}; ++q) {`, ...unroll(n, "j", `${name}[j] = q == r ? ${slice("q")} : ${name}[j];`), "}");
    return { shape: local, at: (o) => `${name}[${o}]` };
  };

  const setValue = (node: Node, value: LaneValue): void => {
    values.set(node, value);
    layouts.set(node, value.layout);
  };

  /** A node through a per-thread template over local shapes; `attrs` replaces the node's attributes (remapped axes). */
  const viaTemplate = (node: Node, inputs: readonly Operand[], shape: readonly number[], layout: LaneLayout, attrs = node.attrs): void => {
    const template = CUDA_TEMPLATES[node.op as keyof typeof CUDA_TEMPLATES] as Template | undefined;
    if (!template) throw new LaneReject(`no template for ${node.op}`);
    const out = `v${node.id}`;
    const local = localShape(shape, layout);
    body.push(`float ${out}[${Math.max(1, size(local))}];`);
    body.push(...template({ node: { ...node, attrs, shape: local }, shape: local, out, inputs, lit: floatLiteral, normal: (j) => isNormal(node, j) }));
    setValue(node, arrayOf(out, shape, layout));
  };

  const emitNode = (node: Node, ins: readonly LaneValue[]): void => {
    const shape = node.shape as readonly number[];
    const rank = shape.length;
    if (node.op === "input") {
      setValue(node, { shape, layout: inputLayout, indexable: false, at: (o) => `L[${o}]` });
      return;
    }
    if (node.op === "const") {
      const c = constantValue(fn, node, shape);
      globals.push(...c.globals);
      setValue(node, { shape, layout: { kind: "rep" }, indexable: true, at: c.at });
      return;
    }
    const x = ins[0] as LaneValue;
    if (node.op === "reshape") {
      if (x.layout.kind === "rep") return setValue(node, { ...x, shape });
      // The local arrays keep their element order when the distributed axis keeps its extent and the elements before it.
      const a = x.layout.axis;
      const before = size(x.shape.slice(0, a));
      for (let b = 0; b < rank; b++) if (shape[b] === G && size(shape.slice(0, b)) === before) return setValue(node, { ...x, shape, layout: { kind: "dist", axis: b } });
      throw new LaneReject(`%${node.id}: reshape [${x.shape.join(", ")}] -> [${shape.join(", ")}] moves the distributed axis`);
    }
    const line = lineOf(node);
    if (line && line !== lastLine) {
      body.push(line);
      lastLine = line;
      anyLine = true;
    }
    body.push(`// ${printNode(node)}`);
    const allRep = ins.every((v) => v.layout.kind === "rep");
    if (node.op === "eye" && rank === 2 && shape[0] === G) {
      const out = `v${node.id}`;
      body.push(`float ${out}[${shape[1]}];`, ...unroll(shape[1] as number, "j", `${out}[j] = j == r ? 1.0f : 0.0f;`));
      return setValue(node, arrayOf(out, shape, { kind: "dist", axis: 0 }));
    }
    if (UNARY_OR_BINARY.has(node.op)) {
      const dist = ins.find((v) => v.layout.kind === "dist");
      let b: number;
      if (dist && dist.layout.kind === "dist") b = dist.layout.axis + (rank - dist.shape.length);
      else if (size(shape) <= LANE_REP_MAX_FLOATS) return viaTemplate(node, ins, shape, { kind: "rep" });
      else {
        b = shape.indexOf(G);
        if (b < 0) throw new LaneReject(`%${node.id} (${node.op}): ${size(shape)} floats with no axis of ${G}`);
      }
      const operands = ins.map((v) => localOperand(v, b, rank));
      if (node.op === "broadcast_to") return viaTemplate(node, operands, shape, { kind: "dist", axis: b });
      return viaTemplate(node, operands, shape, { kind: "dist", axis: b });
    }
    if (allRep) {
      checkRep(node, shape);
      return viaTemplate(node, ins, shape, { kind: "rep" });
    }
    const a = (x.layout as { axis: number }).axis;
    const xr = x.shape.length;
    if (REDUCTIONS.has(node.op)) {
      const axes = [...new Set(((node.attrs["axes"] as number[]) ?? []).map((ax) => positiveAxis(ax, xr)))];
      const keep = node.attrs["keepdims"] === true;
      const localAxes = axes.filter((ax) => ax !== a).map((ax) => (ax < a ? ax : ax - 1));
      const xl: Operand = { shape: without(x.shape, a), at: x.at };
      if (!axes.includes(a)) {
        const b = keep ? a : a - axes.filter((ax) => ax < a).length;
        return viaTemplate(node, [xl], shape, { kind: "dist", axis: b }, { ...node.attrs, axes: localAxes });
      }
      // Over the distributed axis: each lane reduces its local part (kept dims), then the group by a butterfly.
      checkRep(node, shape);
      const out = `v${node.id}`;
      const slots = size(shape);
      const kept = xl.shape.map((d, i) => (localAxes.includes(i) ? 1 : d));
      const partial = (kind: "sum" | "amax" | "amin", src: Operand, dst: string): string[] =>
        (CUDA_TEMPLATES[kind] as Template)({ node: { ...node, op: kind, attrs: { axes: localAxes, keepdims: true }, shape: kept }, shape: kept, out: dst, inputs: [src], lit: floatLiteral });
      body.push(`float ${out}[${slots}];`);
      const across = (f: string): string[] => unroll(slots, "i", `${out}[i] = mhc::${f}<${G}>(${out}[i]);`);
      if (node.op === "sum" || node.op === "mean") {
        body.push(...partial("sum", xl, out), ...across("lanes_sum"));
        if (node.op === "mean") body.push(...unroll(slots, "i", `${out}[i] = mhc::fdiv(${out}[i], ${floatLiteral(size(x.shape) / slots)});`));
      } else if (node.op === "amax" || node.op === "amin") {
        body.push(...partial(node.op, xl, out), ...across(node.op === "amax" ? "lanes_max" : "lanes_min"));
      } else {
        // logsumexp, max-shifted: m over the group, then the group's sum of exp(x - m).
        const s = fresh("s");
        const e = fresh("e");
        const slot = (o: string): string => `${out}[${kept.length === 0 ? "0" : slotOf(xl.shape, kept, o)}]`;
        body.push(...partial("amax", xl, out), ...across("lanes_max"), "{", `float ${e}[${Math.max(1, size(xl.shape))}];`);
        body.push(...unroll(size(xl.shape), "j", `${e}[j] = expf(${xl.at("j")} - ${slot("j")});`));
        body.push(`float ${s}[${slots}];`, ...partial("sum", { shape: xl.shape, at: (o) => `${e}[${o}]` }, s));
        body.push(...unroll(slots, "i", `${out}[i] = mhc::lse_finish(${out}[i], mhc::lanes_sum<${G}>(${s}[i]));`), "}");
      }
      return setValue(node, arrayOf(out, shape, { kind: "rep" }));
    }
    if (node.op === "softmax") {
      const ax = positiveAxis(node.attrs["axis"] as number, xr);
      const xl: Operand = { shape: without(x.shape, a), at: x.at };
      if (ax !== a) return viaTemplate(node, [xl], shape, x.layout, { ...node.attrs, axis: ax < a ? ax : ax - 1 });
      // Along the distributed axis: every local element is its own softmax over the group.
      const out = `v${node.id}`;
      const n = size(xl.shape);
      body.push(`float ${out}[${n}];`, "#pragma unroll", `for (int j = 0; j < ${n}; ++j) {`);
      body.push(`const float m = mhc::lanes_max<${G}>(${xl.at("j")});`, `${out}[j] = expf(${xl.at("j")} - m);`, `${out}[j] = ${out}[j] * mhc::rcp_normal(mhc::lanes_sum<${G}>(${out}[j]));`, "}");
      return setValue(node, arrayOf(out, shape, x.layout));
    }
    if (node.op === "matmul") return matmul(node, ins[0] as LaneValue, ins[1] as LaneValue);
    if (node.op === "transpose") {
      const perm = node.attrs["perm"] as number[];
      const b = perm.indexOf(a);
      const localPerm = perm.filter((p) => p !== a).map((p) => (p < a ? p : p - 1));
      const layout: LaneLayout = { kind: "dist", axis: b };
      // Only the distributed axis moves: the local arrays are the same.
      if (localPerm.every((p, i) => p === i)) return setValue(node, { shape, layout, indexable: false, at: x.at });
      return viaTemplate(node, [{ shape: without(x.shape, a), at: x.at }], shape, layout, { ...node.attrs, perm: localPerm });
    }
    if (node.op === "slice" || node.op === "concat") {
      const ax = positiveAxis(node.attrs["axis"] as number, rank);
      if (ax === a || ins.some((v) => v.layout.kind !== "dist" || v.layout.axis !== a)) throw new LaneReject(`%${node.id}: ${node.op} along or across the distributed axis`);
      return viaTemplate(node, ins.map((v) => ({ shape: without(v.shape, a), at: v.at })), shape, x.layout, { ...node.attrs, axis: ax < a ? ax : ax - 1 });
    }
    throw new LaneReject(`no lane form for ${node.op} of a distributed value`);
  };

  /** Index of the kept slot of local element `o` (row-major over `shape`) in `kept` (reduced axes 1). */
  function slotOf(shape: readonly number[], kept: readonly number[], o: string): string {
    const terms: string[] = [];
    let inner = 1;
    let keptInner = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      const d = shape[i] as number;
      if (kept[i] !== 1 && d > 1) terms.push(`(${o}) / ${inner} % ${d} * ${keptInner}`);
      inner *= d;
      keptInner *= kept[i] as number;
    }
    return terms.length === 0 ? "0" : terms.join(" + ");
  }

  /** [m, k] @ [k, p] with one operand or both distributed; other lanes' rows or columns come by shuffles, accumulated in order of k. */
  const matmul = (node: Node, A: LaneValue, B: LaneValue): void => {
    if (A.shape.length !== 2 || B.shape.length !== 2) throw new LaneReject(`%${node.id}: batched matmul`);
    const [m, k] = A.shape as [number, number];
    const p = B.shape[1] as number;
    const out = `v${node.id}`;
    const la = A.layout.kind === "dist" ? A.layout.axis : -1;
    const lb = B.layout.kind === "dist" ? B.layout.axis : -1;
    const read = (v: LaneValue, at: string, src?: string): string => (src === undefined ? v.at(at) : `mhc::lane_read<${G}>(${v.at(at)}, ${src})`);
    let layout: LaneLayout;
    let n: number;
    let term: (i: string, q: string) => string;
    if (la === 0 && lb === -1) {
      // Lane r: row r of A times B.
      [layout, n, term] = [{ kind: "dist", axis: 0 }, p, (j, q) => `fmaf(${A.at(q)}, ${B.at(`${q} * ${p} + ${j}`)}, acc)`];
    } else if (la === -1 && lb === 1) {
      // Lane r: A times column r of B.
      [layout, n, term] = [{ kind: "dist", axis: 1 }, m, (i, q) => `fmaf(${A.at(`${i} * ${k} + ${q}`)}, ${B.at(q)}, acc)`];
    } else if (la === 0 && lb === 0) {
      // B[q, j] is element j of lane q.
      [layout, n, term] = [{ kind: "dist", axis: 0 }, p, (j, q) => `fmaf(${A.at(q)}, ${read(B, j, q)}, acc)`];
    } else if (la === 0 && lb === 1) {
      // B[q, j] is element q of lane j.
      [layout, n, term] = [{ kind: "dist", axis: 0 }, p, (j, q) => `fmaf(${A.at(q)}, ${read(B, q, j)}, acc)`];
    } else if (la === 1 && lb === 1) {
      // A[i, q] is element i of lane q.
      [layout, n, term] = [{ kind: "dist", axis: 1 }, m, (i, q) => `fmaf(${read(A, i, q)}, ${B.at(q)}, acc)`];
    } else {
      throw new LaneReject(`%${node.id}: matmul of layouts ${JSON.stringify([A.layout, B.layout])} sums across the group into a replicated matrix`);
    }
    body.push(`float ${out}[${n}];`, "#pragma unroll", `for (int c = 0; c < ${n}; ++c) {`, "float acc = -0.0f;", "#pragma unroll", `for (int q = 0; q < ${k}; ++q) acc = ${term("c", "q")};`, `${out}[c] = acc;`, "}");
    setValue(node, arrayOf(out, node.shape as readonly number[], layout));
  };

  // Node order, with repeated runs emitted once inside rolled loops (the state arrays carry the values).
  let loopIndex = 0;
  let loopCount = 0;
  for (let pos = 0; pos < nodes.length; ) {
    const loop = loops[loopIndex];
    if (loop && loop.start === pos) {
      loopIndex++;
      loopCount++;
      const lastUse = new Map<Node, number>();
      nodes.forEach((nd, i) => nd.inputs.forEach((inp) => lastUse.set(inp, i)));
      lastUse.set(output, Infinity);
      const { body: bodyNodes, end, lastCopy, state: sorted, title } = loopFrame(loop, nodes, lastUse);
      const stateName = (k: number): string => `s${(bodyNodes[k] as Node).id}`;
      // Every copy has the first copy's layouts, a carried value its init's (consistentLoops).
      const layoutOf = (k: number): LaneLayout => {
        const known = prior?.get(bodyNodes[k] as Node);
        if (!known) throw new LaneReject("a loop state of unknown layout");
        return known;
      };
      const stateValue = (k: number): LaneValue => arrayOf(stateName(k), (bodyNodes[k] as Node).shape as readonly number[], layoutOf(k));
      const localSize = (k: number): number => Math.max(1, size(localShape((bodyNodes[k] as Node).shape as number[], layoutOf(k))));
      body.push(title);
      for (const k of sorted) {
        body.push(`float ${stateName(k)}[${localSize(k)}];`);
        const init = loop.init.get(k);
        if (init) body.push(...unroll(localSize(k), "i", `${stateName(k)}[i] = ${(values.get(init) as LaneValue).at("i")};`));
      }
      body.push("#pragma unroll 1", `for (int it = 0; it < ${loop.count}; ++it) {`);
      lastLine = "";
      bodyNodes.forEach((nd, k) => {
        emitNode(nd, bodyInputs(loop, k, nd, stateValue, (inp) => values.get(inp) as LaneValue));
        if (!sameLayout(layouts.get(nd) as LaneLayout, layoutOf(k))) throw new LaneReject("a rolled copy changes layout");
      });
      // Through temporaries: a body value may read a state array in place (an aliasing transpose or reshape).
      for (const k of sorted) body.push(`float n${stateName(k)}[${localSize(k)}];`, ...unroll(localSize(k), "i", `n${stateName(k)}[i] = ${(values.get(bodyNodes[k] as Node) as LaneValue).at("i")};`));
      for (const k of sorted) body.push(...unroll(localSize(k), "i", `${stateName(k)}[i] = n${stateName(k)}[i];`));
      body.push("}");
      lastLine = "";
      for (const k of sorted) setValue(nodes[lastCopy + k] as Node, stateValue(k));
      pos = end;
      continue;
    }
    const node = nodes[pos] as Node;
    emitNode(node, node.inputs.map((i) => values.get(i) as LaneValue));
    pos++;
  }

  // H: a distributed result as it is; a replicated one as lane r's slice along its first axis of extent G.
  let result = values.get(output) as LaneValue;
  if (result.layout.kind === "rep") {
    const b = outputShape.indexOf(G);
    if (b < 0) throw new LaneReject(`H [${outputShape.join(", ")}] has no axis of ${G}`);
    const op = localOperand(result, b, outputShape.length);
    result = { shape: outputShape, layout: { kind: "dist", axis: b }, indexable: false, at: op.at };
  }
  const outAxis = (result.layout as { axis: number }).axis;
  const outLocal = Math.max(1, size(without(outputShape, outAxis)));
  const inLocal = Math.max(1, size(localShape(inputShape, inputLayout)));
  const lines = [
    ...(options.title ? [`// ${options.title}`] : []),
    `// L [${inputShape.join(", ")}] -> H [${outputShape.join(", ")}] on a group of ${G} lanes (lane r: ${describe(inputLayout)} of L, index r of axis ${outAxis} of H): ${nodes.length} IR nodes`,
    `__device__ __forceinline__ void ${fn}(const float (&L)[${inLocal}], float (&H)[${outLocal}], const int r) {`,
    ...indent([...(usesInput ? [] : ["(void)L;"]), ...body], 1),
    ...(anyLine ? [LINE_RESTORE] : []),
    ...indent(unroll(outLocal, "i", `H[i] = ${result.at("i")};`), 1),
    "}",
  ];
  const fnOut: LaneConstraintFunction = {
    name: fn,
    group: G,
    inputShape,
    outputShape,
    usesInput,
    inputLocal: inLocal,
    outputLocal: outLocal,
    inputIndex: (j) => (inputLayout.kind === "rep" ? j : distIndex(inputShape, 0, G, j)),
    outputIndex: (j) => distIndex(outputShape, outAxis, G, j),
    inputLayout,
    outputLayout: result.layout,
    globals,
    lines,
    nodeCount: nodes.length,
    loops: loopCount,
  };
  return { fn: fnOut, layouts };
}

function describe(layout: LaneLayout): string {
  return layout.kind === "rep" ? "all" : `index r of axis ${layout.axis}`;
}
