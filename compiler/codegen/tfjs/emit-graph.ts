import { IrError } from "../../ir/errors.js";
import type { Node } from "../../ir/node.js";
import { shapesEqual, type Shape } from "../../ir/shape.js";
import type { Span } from "../../source/span.js";
import { jsDim, jsNumber, TFJS_TEMPLATES, type TemplateContext } from "./templates.js";

/**
 * The JavaScript name of a node: inputs keep their IR name (`x`, `phi_pre`); every
 * other node is its op in camel case followed by its id, the node's creation index
 * (`softmax35`, `broadcastTo12`). Never derived from object identity, so the same
 * graph always gives the same names.
 */
export function nodeName(node: Node): string {
  if (node.op === "input") return node.attrs["name"] as string;
  const camel = node.op.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return `${camel}${node.id}`;
}

/** Module-level data shared by the functions of one generated module. */
export class ModuleData {
  private readonly arrays = new Map<Node, string>();
  private readonly helpers = new Map<string, string>();

  /** Declares a module-level helper once (by name) and returns its name. */
  helper(name: string, declaration: string): string {
    if (!this.helpers.has(name)) this.helpers.set(name, declaration);
    return name;
  }

  /** The helpers' declarations, sorted by name. */
  helperDeclarations(): string[] {
    return [...this.helpers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
  }

  /** The name of the hoisted `number[]` holding a non-splat constant's values. */
  constData(node: Node): string {
    let name = this.arrays.get(node);
    if (!name) {
      name = `${nodeName(node)}Data`;
      this.arrays.set(node, name);
    }
    return name;
  }

  /** `const const35Data = [...];` for every hoisted constant, in node order. */
  declarations(): string[] {
    return [...this.arrays]
      .sort(([a], [b]) => a.id - b.id)
      .map(([node, name]) => `const ${name}: number[] = [${(node.attrs["value"] as readonly number[]).map(jsNumber).join(", ")}];`);
  }
}

export interface EmitRequest {
  /** What to compute. */
  readonly roots: readonly Node[];
  /** Values that already have a JavaScript name here (arguments, state, earlier lines): never recomputed. */
  readonly given: ReadonlyMap<Node, string>;
  readonly data: ModuleData;
  /** `std.mhc:96  M = M / (rowsum(M) + eps)` for a span, or undefined when it has no useful place. */
  readonly locate: (span: Span) => string | undefined;
  /** The comment above lines whose nodes carry no span (the sublayer's own maths). */
  readonly unspannedLabel: string;
  /** Names for computed nodes other than `nodeName` (a derivative's nodes, so they cannot clash with the forward's). */
  readonly rename?: (node: Node) => string;
  /**
   * Leave out a `broadcast_to` whose every use is an elementwise binary op whose other
   * operand already has the full shape: tfjs broadcasts those operands itself (numpy
   * rules), with the same values. Only where no tfjs gradient is taken (a custom
   * gradient's body), since the gradients of tfjs's binary ops do not reduce every
   * broadcast back.
   */
  readonly implicitBroadcast?: boolean;
  /**
   * Nodes computed by one call instead of node by node (a `tf.customGrad` helper): the
   * call is made with the JavaScript names of `inputs`, which are computed first; the
   * nodes between them and the root are not emitted.
   */
  readonly fused?: ReadonlyMap<Node, FusedCall>;
}

export interface FusedCall {
  readonly inputs: readonly Node[];
  readonly call: (args: readonly string[]) => string;
  /** The comment above the call. */
  readonly comment: string;
}

export interface EmittedBody {
  /** `const` statements and location comments, in node (topological) order. */
  readonly lines: readonly string[];
  /** The JavaScript expression of every node computed or given. */
  readonly names: ReadonlyMap<Node, string>;
  /** The nodes this body computes (not the given ones), in order. */
  readonly computed: readonly Node[];
  /** Every node whose name the lines use as an argument (given or computed), in order of first use. */
  readonly referenced: readonly Node[];
}

/** The inputs a node's line reads: its own, or a fused call's arguments. */
const argumentsOf = (node: Node, fused: ReadonlyMap<Node, FusedCall> | undefined): readonly Node[] => fused?.get(node)?.inputs ?? node.inputs;

/** Nodes needed for `roots`, stopping at given ones, in id (creation) order. */
function needed(roots: readonly Node[], given: ReadonlyMap<Node, string>, fused: ReadonlyMap<Node, FusedCall> | undefined): Node[] {
  const seen = new Set<Node>();
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    if (seen.has(node)) continue;
    seen.add(node);
    if (!given.has(node)) stack.push(...argumentsOf(node, fused));
  }
  return [...seen].filter((n) => !given.has(n)).sort((a, b) => a.id - b.id);
}

const BROADCASTING_BINARY_OPS: ReadonlySet<string> = new Set(["add", "sub", "mul", "div", "max", "min", "pow"]);

/** The `broadcast_to` nodes of `computed` that their users broadcast implicitly (see `implicitBroadcast`). */
function implicitBroadcasts(computed: readonly Node[], roots: readonly Node[]): Set<Node> {
  const users = new Map<Node, Node[]>();
  for (const node of computed) for (const input of node.inputs) users.set(input, [...(users.get(input) ?? []), node]);
  const out = new Set<Node>();
  for (const node of computed) {
    if (node.op !== "broadcast_to" || roots.includes(node)) continue;
    const uses = users.get(node) ?? [];
    const ok = uses.length > 0 && uses.every((u) => BROADCASTING_BINARY_OPS.has(u.op) && u.inputs.length === 2 && u.inputs[0] !== u.inputs[1] && shapesEqual(u.inputs.find((i) => i !== node)!.shape, node.shape) && shapesEqual(u.shape, node.shape));
    if (ok) out.add(node);
  }
  return out;
}

/**
 * Walks the graph in order and writes one `const` per node from the op's template,
 * with a `// file.mhc:line` comment whenever the source location changes (the tfjs
 * analogue of CUDA's `#line`). Symbolic dims must be bound to JavaScript names of the
 * same spelling (`T`, `C`) by the caller.
 */
export function emitNodes(request: EmitRequest): EmittedBody {
  const names = new Map<Node, string>(request.given);
  const lines: string[] = [];
  const computed = needed(request.roots, request.given, request.fused);
  const implicit = request.implicitBroadcast ? implicitBroadcasts(computed, request.roots) : new Set<Node>();
  const referenced = new Set<Node>();
  // An elided broadcast is spelt with its input's name: a use of it reads that input.
  const source = (n: Node): Node => (implicit.has(n) ? source(n.inputs[0]!) : n);
  let lastComment: string | undefined;
  const shape = (s: Shape): string => `[${s.map(jsDim).join(", ")}]`;
  for (const node of computed) {
    if (node.op === "input") throw new IrError(`tfjs codegen: input "${node.attrs["name"] as string}" has no value in this function`);
    if (implicit.has(node)) {
      names.set(node, names.get(node.inputs[0]!)!);
      continue;
    }
    const fused = request.fused?.get(node);
    const comment = fused?.comment ?? (node.span && request.locate(node.span)) ?? request.unspannedLabel;
    if (comment !== lastComment) {
      lines.push(`// ${comment}`);
      lastComment = comment;
    }
    const args = argumentsOf(node, request.fused).map((i) => {
      const name = names.get(i);
      if (name === undefined) throw new IrError(`tfjs codegen: %${i.id} is used before it is computed`);
      referenced.add(source(i));
      return name;
    });
    const name = request.rename?.(node) ?? nodeName(node);
    if (fused) {
      lines.push(`const ${name} = ${fused.call(args)};`);
    } else {
      const context: TemplateContext = { node, args, shape, constData: (n) => request.data.constData(n), helper: (name, declaration) => request.data.helper(name, declaration) };
      lines.push(`const ${name} = ${TFJS_TEMPLATES[node.op].emit(context)};`);
    }
    names.set(node, name);
  }
  return { lines, names, computed, referenced: [...referenced] };
}
