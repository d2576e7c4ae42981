import type { Span } from "../source/span.js";
import { checkNode } from "./check.js";
import type { DType } from "./dtype.js";
import { IrError, irAssert } from "./errors.js";
import { formatAttrs, formatType } from "./format.js";
import type { Attrs, Node, Output } from "./node.js";
import type { OpName } from "./op-names.js";
import type { Shape } from "./shape.js";

export interface NodeOptions {
  /** Required for ops that declare their shape (input, const, eye, reshape, broadcast_to); checked otherwise. */
  readonly shape?: Shape;
  /** Required for ops that declare their dtype (input, const, eye, cast); checked otherwise. */
  readonly dtype?: DType;
  readonly span?: Span;
}

/**
 * A graph and the only factory of its nodes. Construction validates every node (arity,
 * attrs, shape and dtype rules of the op table) and hash-conses it: asking twice for
 * the same (op, inputs, attrs, type) returns the first node, so common subexpressions
 * are shared as they are built. Nodes are appended in creation order, which is a
 * topological order, and their ids are their positions.
 */
export class Graph {
  private readonly nodeList: Node[] = [];
  private readonly byKey = new Map<string, Node>();
  private readonly members = new Set<Node>();
  private readonly inputsByName = new Map<string, Node>();
  private readonly outputList: Output[] = [];

  /** All nodes, dead ones included, in creation (topological) order. */
  get nodes(): readonly Node[] {
    return this.nodeList;
  }

  get outputs(): readonly Output[] {
    return this.outputList;
  }

  /** The `input` nodes, in creation order. */
  get inputs(): readonly Node[] {
    return [...this.inputsByName.values()];
  }

  has(node: Node): boolean {
    return this.members.has(node);
  }

  findInput(name: string): Node | undefined {
    return this.inputsByName.get(name);
  }

  findOutput(name: string): Node | undefined {
    return this.outputList.find((o) => o.name === name)?.node;
  }

  node(op: OpName, inputs: readonly Node[], attrs: Attrs = {}, options: NodeOptions = {}): Node {
    inputs.forEach((input, i) => {
      irAssert(this.members.has(input), () => `${op}: input ${i} (%${input.id} ${input.op}) belongs to another graph`);
    });
    let checked;
    try {
      checked = checkNode({ op, inputs, attrs, shape: options.shape, dtype: options.dtype });
    } catch (e) {
      if (e instanceof IrError && options.span) {
        throw new IrError(`${e.message} (at ${options.span.file}:${options.span.start}-${options.span.end})`);
      }
      throw e;
    }
    const { type } = checked;
    const key = `${op}(${inputs.map((i) => i.id).join(",")})${formatAttrs(checked.attrs)}:${formatType(type.dtype, type.shape)}`;
    const existing = this.byKey.get(key);
    if (existing) return existing;

    if (op === "input") {
      const name = checked.attrs["name"] as string;
      irAssert(!this.inputsByName.has(name), () => `input "${name}" is declared twice with different types`);
    }
    const node: Node = Object.freeze({
      id: this.nodeList.length,
      op,
      inputs: Object.freeze([...inputs]),
      attrs: Object.freeze(checked.attrs),
      shape: Object.freeze([...type.shape]),
      dtype: type.dtype,
      ...(options.span ? { span: options.span } : {}),
    });
    this.nodeList.push(node);
    this.byKey.set(key, node);
    this.members.add(node);
    if (op === "input") this.inputsByName.set(checked.attrs["name"] as string, node);
    return node;
  }

  /** Names a result. Names are unique; one node may be several outputs. */
  output(name: string, node: Node): Node {
    irAssert(this.members.has(node), () => `output "${name}": node %${node.id} belongs to another graph`);
    irAssert(!this.outputList.some((o) => o.name === name), `output "${name}" is defined twice`);
    this.outputList.push({ name, node });
    return node;
  }
}
