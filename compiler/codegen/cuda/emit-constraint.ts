import type { Graph } from "../../ir/graph.js";
import { reachableNodes } from "../../ir/interpret.js";
import type { Node } from "../../ir/node.js";
import { printNode } from "../../ir/print.js";
import { isConcreteShape } from "../../ir/shape.js";
import type { SourceSet } from "../../source/source-set.js";
import { CONSTANT_MEMORY_MAX_FLOATS, FLOAT_DIGITS, REROLL_MAX_PERIOD, REROLL_MIN_REPEATS, UNROLL_LIMIT } from "./knobs.js";
import { normalOperands } from "./normal-divisors.js";
import { bodyInputs, findLoops, loopFrame } from "./reroll.js";
import { CUDA_TEMPLATES, type Operand } from "./templates.js";

/** A generator limitation or an unsupported input (never a user error of the .mhc file). */
export class CudaCodegenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CudaCodegenError";
  }
}

/**
 * Marks a line where the `#line` mapping must return to the generated file itself;
 * `finishSource` replaces it with `#line <its own line + 1> "<file>"`.
 */
export const LINE_RESTORE = "#pragma mhc_line_restore";

/** A float32 literal: the shortest decimal that rounds back to the same float, `f`-suffixed. */
export function floatLiteral(value: number): string {
  if (Number.isNaN(value)) return "NAN";
  if (value === Infinity) return "INFINITY";
  if (value === -Infinity) return "(-INFINITY)";
  const f = Math.fround(value);
  if (Object.is(f, -0)) return "(-0.0f)";
  let text = f.toPrecision(FLOAT_DIGITS);
  for (let p = 1; p <= FLOAT_DIGITS; p++) {
    const candidate = f.toPrecision(p);
    if (Math.fround(Number(candidate)) === f) {
      text = candidate;
      break;
    }
  }
  if (!/[.e]/.test(text)) text += ".0";
  if (/e/.test(text) && !/\./.test(text.split("e")[0] as string)) text = text.replace("e", ".0e");
  return f < 0 ? `(${text}f)` : `${text}f`;
}

/**
 * A const node's value in generated code: a literal for one element, else a namespace-scope table
 * (`__constant__` up to CONSTANT_MEMORY_MAX_FLOATS floats) with the lines that declare it.
 */
export function constantValue(fn: string, node: Node, shape: readonly number[]): { readonly at: (offset: string) => string; readonly globals: readonly string[] } {
  const value = node.attrs["value"] as readonly number[];
  if (value.length === 1) {
    const lit = floatLiteral(value[0] as number);
    return { at: () => lit, globals: [] };
  }
  const table = `${fn}_k${node.id}`;
  const space = value.length <= CONSTANT_MEMORY_MAX_FLOATS ? "__constant__" : "__device__";
  const rows: string[] = [];
  for (let i = 0; i < value.length; i += 8) rows.push("  " + value.slice(i, i + 8).map((v) => floatLiteral(v)).join(", ") + ",");
  return { at: (o) => `${table}[${o}]`, globals: [`// %${node.id}: const [${shape.join(", ")}]`, `${space} const float ${table}[${value.length}] = {`, ...rows, "};"] };
}

export interface ConstraintFunction {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  /** Whether the result reads the logits at all. */
  readonly usesInput: boolean;
  /** Namespace-scope declarations (literal tables), in node order. */
  readonly globals: readonly string[];
  /** The `__device__` function, with `#line` directives and LINE_RESTORE markers. */
  readonly lines: readonly string[];
  /** Nodes emitted (after the pipeline). */
  readonly nodeCount: number;
}

export interface EmitConstraintOptions {
  /** The C++ identifier of the function. */
  readonly name: string;
  /** Source texts, to turn node spans into `#line` directives (none without). */
  readonly sources?: SourceSet;
  /** One line said above the function (what constraint, which arguments). */
  readonly title?: string;
  /**
   * Emit repeated runs of nodes (a source loop the IR unrolled) as rolled `for` loops (reroll.ts):
   * the same arithmetic in far fewer instructions. Off by default.
   */
  readonly reroll?: boolean;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Indents `{`/`}`-nested statement lines by two spaces per level; preprocessor lines stay at column 0 except `#pragma unroll`. */
export function indent(lines: readonly string[], level: number): string[] {
  const out: string[] = [];
  let depth = level;
  for (const line of lines) {
    if (line.startsWith("}")) depth--;
    const atZero = line.startsWith("#line") || line === LINE_RESTORE;
    out.push(atZero ? line : "  ".repeat(depth) + line);
    if (line.endsWith("{")) depth++;
  }
  return out;
}

/**
 * Emits a per-token constraint graph (input `L`, output `H`, every shape concrete:
 * built with batch `[]`) as a `__device__` function on local arrays:
 *
 *     __device__ __forceinline__ void NAME(const float (&L)[k], float (&H)[m])
 *
 * One array `vID` per node in graph order, one template per op (CUDA_TEMPLATES), a
 * `#line` directive wherever the source line of the nodes changes. Deterministic: the
 * text depends only on the graph (ids, ops, attrs, shapes, spans) and the options.
 */
export function emitConstraintFunction(graph: Graph, options: EmitConstraintOptions): ConstraintFunction {
  const output = graph.findOutput("H");
  if (!output || graph.outputs.length !== 1) throw new CudaCodegenError(`constraint graph must have exactly one output named H`);
  const nodes = reachableNodes([output]);
  for (const node of nodes) {
    if (!isConcreteShape(node.shape)) throw new CudaCodegenError(`constraint graph node %${node.id} (${node.op}) has symbolic shape [${node.shape.join(", ")}]; build it with batch []`);
    if (node.op === "input" && node.attrs["name"] !== "L") throw new CudaCodegenError(`constraint graph has an input "${String(node.attrs["name"])}"; only L is allowed`);
  }
  const input = graph.findInput("L");
  const inputShape = (input?.shape ?? []) as readonly number[];
  const usesInput = nodes.some((n) => n.op === "input");
  const outputShape = output.shape as readonly number[];

  const fn = options.name;
  // Liveness: the last node (index in `nodes`) that reads each value; a reshape shares
  // its operand's storage, so the operand lives as long as the reshape does.
  const position = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  const lastUse = new Map<Node, number>();
  for (const node of nodes) for (const i of node.inputs) lastUse.set(i, position.get(node) as number);
  lastUse.set(output, Infinity);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i] as Node;
    const src = node.inputs[0];
    if (node.op === "reshape" && src) lastUse.set(src, Math.max(lastUse.get(src) ?? -1, lastUse.get(node) ?? -1));
  }
  // Arrays too large to unroll live in local memory; they share a pool of buffers
  // (disjoint lifetimes), so the stack frame stays a few arrays deep whatever the
  // iteration count.
  const pooled = new Map<Node, string>();
  const free = new Map<number, string[]>();
  const pool: string[] = [];
  const operands = new Map<Node, Operand>();
  const globals: string[] = [];
  const body: string[] = [];
  let lastLine = "";

  const lineOf = (node: Node): string | undefined => {
    if (!node.span || !options.sources) return undefined;
    const file = options.sources.get(node.span.file);
    if (!file) return undefined;
    return `#line ${file.positionAt(node.span.start).line} ${JSON.stringify(node.span.file)}`;
  };

  // One node: its array and template, its inputs read through `inputs` (their operands unless a
  // rerolled loop substitutes a carried value's state array).
  const emitNode = (node: Node, inputs: readonly Operand[]): void => {
    const shape = node.shape as readonly number[];
    if (node.op === "input") {
      operands.set(node, { shape, at: (o) => `L[${o}]` });
      return;
    }
    if (node.op === "const") {
      const c = constantValue(fn, node, shape);
      globals.push(...c.globals);
      operands.set(node, { shape, at: c.at });
      return;
    }
    const first = node.inputs[0];
    if (node.op === "reshape" && first) {
      const src = inputs[0] as Operand;
      operands.set(node, { shape, at: src.at });
      return;
    }
    if (node.op === "broadcast_to" && first && first.op === "const" && (first.attrs["value"] as number[]).length === 1) {
      operands.set(node, { shape, at: (inputs[0] as Operand).at });
      return;
    }
    const template = CUDA_TEMPLATES[node.op as keyof typeof CUDA_TEMPLATES];
    if (!template) throw new CudaCodegenError(`no CUDA template for op ${node.op}`);
    const line = lineOf(node);
    if (line && line !== lastLine) {
      body.push(line);
      lastLine = line;
    }
    const out = `v${node.id}`;
    const elems = Math.max(1, size(shape));
    body.push(`// ${printNode(node)}`);
    if (elems > UNROLL_LIMIT) {
      const buffer = free.get(elems)?.pop() ?? `b${pool.length}`;
      if (!pool.some((d) => d.startsWith(`float ${buffer}[`))) pool.push(`float ${buffer}[${elems}];`);
      pooled.set(node, buffer);
      body.push(`float* const ${out} = ${buffer};`);
    } else {
      body.push(`float ${out}[${elems}];`);
    }
    body.push(...template({ node, shape, out, inputs, lit: floatLiteral, normal: (j) => isNormal(node, j) }));
    operands.set(node, { shape, at: (o) => `${out}[${o}]` });
  };
  // Release the pooled buffers whose values die at index `here` (inputs read for the last time).
  const release = (here: number, current: Node): void => {
    for (const [value, buffer] of [...pooled]) {
      if ((lastUse.get(value) ?? -1) <= here && value !== current) {
        pooled.delete(value);
        const list = free.get(size(value.shape as number[])) ?? [];
        list.push(buffer);
        free.set(size(value.shape as number[]), list);
      }
    }
  };
  const copyLoop = (n: number, dst: string, src: Operand): string[] =>
    n > 1 ? ["#pragma unroll", `for (int i = 0; i < ${n}; ++i) ${dst}[i] = ${src.at("i")};`] : [`${dst}[0] = ${src.at("0")};`];

  // Repeated runs of small nodes (every array in registers) become rolled loops.
  const loops = options.reroll
    ? findLoops(nodes, lastUse, (n) => n.op !== "input" && n.op !== "const" && size(n.shape as number[]) <= UNROLL_LIMIT, REROLL_MIN_REPEATS, REROLL_MAX_PERIOD)
    : [];
  const isNormal = normalOperands(nodes, loops);
  let loopIndex = 0;
  for (let p = 0; p < nodes.length; ) {
    const loop = loops[loopIndex];
    if (loop && loop.start === p) {
      loopIndex++;
      // State arrays: carried values (read by the next copy) and the last copy's values read after the loop.
      const { body: bodyNodes, end, lastCopy, state, title } = loopFrame(loop, nodes, lastUse);
      const stateName = (k: number): string => `s${(bodyNodes[k] as Node).id}`;
      const stateOperand = (k: number): Operand => {
        const name = stateName(k);
        return { shape: (bodyNodes[k] as Node).shape as readonly number[], at: (o) => `${name}[${o}]` };
      };
      body.push(title);
      for (const k of state) {
        const n = Math.max(1, size((bodyNodes[k] as Node).shape as number[]));
        body.push(`float ${stateName(k)}[${n}];`);
        const init = loop.init.get(k);
        if (init) body.push(...copyLoop(n, stateName(k), operands.get(init) as Operand));
      }
      body.push("#pragma unroll 1", `for (int it = 0; it < ${loop.count}; ++it) {`);
      lastLine = "";
      bodyNodes.forEach((node, k) => emitNode(node, bodyInputs(loop, k, node, stateOperand, (input) => operands.get(input) as Operand)));
      for (const k of state) {
        const n = Math.max(1, size((bodyNodes[k] as Node).shape as number[]));
        body.push(...copyLoop(n, stateName(k), operands.get(bodyNodes[k] as Node) as Operand));
      }
      body.push("}");
      lastLine = "";
      // After the loop the last copy's nodes are the state arrays.
      for (const k of state) operands.set(nodes[lastCopy + k] as Node, stateOperand(k));
      release(end - 1, nodes[end - 1] as Node);
      p = end;
      continue;
    }
    const node = nodes[p] as Node;
    emitNode(
      node,
      node.inputs.map((i) => operands.get(i) as Operand),
    );
    release(p, node);
    p++;
  }

  const result = operands.get(output) as Operand;
  const m = size(outputShape);
  // A constraint that ignores its logits (fixed_ones, identity) has no L in its graph: it takes them by
  // pointer, so that a caller's logits array of any length binds (a reference to float[1] bound only at n = 1).
  const param = input ? `const float (&L)[${Math.max(1, size(inputShape))}]` : "const float* L";
  const lines = [
    ...(options.title ? [`// ${options.title}`] : []),
    `// L [${inputShape.join(", ")}] -> H [${outputShape.join(", ")}]: ${nodes.length} IR nodes, one fp32 array per node (registers once unrolled)`,
    `__device__ __forceinline__ void ${fn}(${param}, float (&H)[${m}]) {`,
    ...indent([...(pool.length > 0 ? ["// local-memory buffers shared by the large arrays below (disjoint lifetimes)", ...pool] : []), ...(usesInput ? [] : ["(void)L;"]), ...body], 1),
    ...(lastLine ? [LINE_RESTORE] : []),
    ...indent([`${m > 1 ? `#pragma unroll\nfor (int i = 0; i < ${m}; ++i) H[i] = ${result.at("i")};` : `H[0] = ${result.at("0")};`}`].flatMap((l) => l.split("\n")), 1),
    "}",
  ];
  return { name: fn, inputShape, outputShape, usesInput, globals, lines, nodeCount: nodes.length };
}

/** Replaces LINE_RESTORE markers with `#line` directives back into the generated file. */
export function finishSource(lines: readonly string[], fileName: string): string {
  return lines.map((line, i) => (line === LINE_RESTORE ? `#line ${i + 2} ${JSON.stringify(fileName)}` : line)).join("\n") + "\n";
}
