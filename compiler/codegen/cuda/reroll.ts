import type { Node } from "../../ir/node.js";

/**
 * Loop rerolling for the constraint emitter. The IR has no loop op: a source `repeat k { ... }`
 * arrives as k copies of its body's nodes (Sinkhorn's 20 iterations are 6 nodes each). Emitted
 * straight, one thread walks thousands of distinct instructions, which instruction fetch, not
 * arithmetic, paces. A run of nodes that repeats with the same ops, attributes and shapes, where
 * each copy reads only its own nodes, the previous copy's nodes (carried values) and nodes from
 * before the run (invariants), is emitted once inside a `for` loop instead. The arithmetic, and
 * its order, is the same as the unrolled code's.
 */
export interface RerolledLoop {
  /** Index in the node list of the first body node, body length, copies (>= 2). */
  readonly start: number;
  readonly period: number;
  readonly count: number;
  /**
   * Per body node k and input j: "body" (a node of the same copy), "carried" with the body
   * index q of the previous copy's node (the first copy reads the node from before the loop:
   * `init`), or "invariant" (the same node in every copy).
   */
  readonly inputs: readonly (readonly LoopInput[])[];
  /** Carried body index q -> the node the first copy reads in its place. */
  readonly init: ReadonlyMap<number, Node>;
}

export type LoopInput = { readonly kind: "body" } | { readonly kind: "invariant" } | { readonly kind: "carried"; readonly q: number };

/** What a node must share with its copy: op, attributes and shape. */
function signature(node: Node): string {
  return `${node.op}|${JSON.stringify(node.attrs)}|${node.shape.join(",")}|${node.inputs.length}`;
}

/**
 * The loop of body [start, start + period) and as many copies as match, or undefined.
 * `eligible(node)` says whether a node may be in a loop body at all.
 */
function tryLoop(nodes: readonly Node[], position: ReadonlyMap<Node, number>, start: number, period: number, eligible: (n: Node) => boolean): RerolledLoop | undefined {
  if (start + 2 * period > nodes.length) return undefined;
  for (let k = 0; k < period; k++) if (!eligible(nodes[start + k] as Node)) return undefined;
  // Classify the first copy's inputs from the second copy.
  const inputs: LoopInput[][] = [];
  const init = new Map<number, Node>();
  for (let k = 0; k < period; k++) {
    const a = nodes[start + k] as Node;
    const b = nodes[start + period + k] as Node;
    if (signature(a) !== signature(b) || !eligible(b)) return undefined;
    const row: LoopInput[] = [];
    for (let j = 0; j < a.inputs.length; j++) {
      const ia = a.inputs[j] as Node;
      const ib = b.inputs[j] as Node;
      const pa = position.get(ia) as number;
      const pb = position.get(ib) as number;
      if (pa >= start) {
        if (pb !== pa + period) return undefined;
        row.push({ kind: "body" });
      } else if (ib === ia) {
        row.push({ kind: "invariant" });
      } else {
        const q = pb - start;
        if (q < 0 || q >= period) return undefined;
        const seen = init.get(q);
        if (seen && seen !== ia) return undefined;
        init.set(q, ia);
        row.push({ kind: "carried", q });
      }
    }
    inputs.push(row);
  }
  // Further copies: the same classification, shifted.
  let count = 2;
  for (; start + (count + 1) * period <= nodes.length; count++) {
    const r = count;
    let ok = true;
    for (let k = 0; k < period && ok; k++) {
      const a = nodes[start + k] as Node;
      const b = nodes[start + r * period + k] as Node;
      if (signature(a) !== signature(b) || !eligible(b)) ok = false;
      for (let j = 0; ok && j < a.inputs.length; j++) {
        const cls = (inputs[k] as LoopInput[])[j] as LoopInput;
        const ib = b.inputs[j] as Node;
        const pb = position.get(ib) as number;
        if (cls.kind === "body") ok = pb === (position.get(a.inputs[j] as Node) as number) + r * period;
        else if (cls.kind === "invariant") ok = ib === a.inputs[j];
        else ok = pb === start + (r - 1) * period + cls.q;
      }
    }
    if (!ok) break;
  }
  return { start, period, count, inputs, init };
}

/**
 * Shrinks `loop` until no node of a copy before the last is read after the loop (or is the
 * output): after the loop only the last copy's values exist.
 */
function trimEscapes(loop: RerolledLoop, nodes: readonly Node[], lastUse: ReadonlyMap<Node, number>): RerolledLoop | undefined {
  let count = loop.count;
  while (count >= 2) {
    const end = loop.start + count * loop.period;
    let escapes = false;
    for (let p = loop.start; p < end - loop.period && !escapes; p++) if ((lastUse.get(nodes[p] as Node) ?? -1) >= end) escapes = true;
    if (!escapes) return { ...loop, count };
    count--;
  }
  return undefined;
}

/**
 * Non-overlapping loops over `nodes` (ordered so that inputs come first), chosen greedily from
 * the front: at each position the body length that removes the most nodes, if at least
 * minRepeats copies. lastUse: the last index reading each node (Infinity for the output).
 */
export function findLoops(nodes: readonly Node[], lastUse: ReadonlyMap<Node, number>, eligible: (n: Node) => boolean, minRepeats: number, maxPeriod: number): RerolledLoop[] {
  const position = new Map<Node, number>(nodes.map((n, i) => [n, i]));
  const loops: RerolledLoop[] = [];
  let s = 0;
  while (s < nodes.length) {
    let best: RerolledLoop | undefined;
    for (let period = 1; period <= maxPeriod && s + 2 * period <= nodes.length; period++) {
      const found = tryLoop(nodes, position, s, period, eligible);
      const loop = found && trimEscapes(found, nodes, lastUse);
      if (loop && loop.count >= minRepeats && (!best || (loop.count - 1) * loop.period > (best.count - 1) * best.period)) best = loop;
    }
    if (best) {
      loops.push(best);
      s = best.start + best.count * best.period;
    } else {
      s++;
    }
  }
  return loops;
}

/** What an emitter needs to write one rolled loop: the body (the first copy's nodes), where the run ends, where its last copy starts, and the state. */
export interface LoopFrame {
  readonly body: readonly Node[];
  readonly end: number;
  readonly lastCopy: number;
  /** Body positions whose values live in state arrays (carried to the next copy, or read after the run), in order. */
  readonly state: readonly number[];
  /** The comment above the loop. */
  readonly title: string;
}

/** The frame of `loop` in `nodes`, `lastUse` giving each node's last reader (index in `nodes`). */
export function loopFrame(loop: RerolledLoop, nodes: readonly Node[], lastUse: ReadonlyMap<Node, number>): LoopFrame {
  const end = loop.start + loop.count * loop.period;
  const body = nodes.slice(loop.start, loop.start + loop.period);
  const lastCopy = loop.start + (loop.count - 1) * loop.period;
  const state = new Set<number>(loop.init.keys());
  for (let k = 0; k < loop.period; k++) if ((lastUse.get(nodes[lastCopy + k] as Node) ?? -1) >= end) state.add(k);
  const title = `// %${(body[0] as Node).id}..%${(nodes[end - 1] as Node).id}: ${loop.count} copies of the ${loop.period} nodes below (a source loop the IR unrolled), rolled`;
  return { body, end, lastCopy, state: [...state].sort((a, b) => a - b), title };
}

/** The inputs body node k of a rolled loop reads: a carried one from its state array (the previous copy), the others as outside the loop. */
export function bodyInputs<V>(loop: RerolledLoop, k: number, node: Node, state: (q: number) => V, value: (input: Node) => V): V[] {
  return node.inputs.map((input, j) => {
    const cls = (loop.inputs[k] as readonly LoopInput[])[j] as LoopInput;
    return cls.kind === "carried" ? state(cls.q) : value(input);
  });
}
