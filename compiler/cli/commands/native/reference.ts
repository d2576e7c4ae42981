import type { CheckResult } from "../../../driver.js";
import { interpret } from "../../../ir/interpret.js";
import type { Graph } from "../../../ir/graph.js";
import { makeTensor, type Tensor } from "../../../ir/tensor.js";
import { buildSublayerGraph } from "../../../lower/sublayer-graph.js";
import type { CheckedConnection } from "../../../sema/checked.js";
import type { InputArray } from "./inputs.js";

/**
 * The float64 reference of one sublayer: the connection lowered to the IR
 * (design.md 1, with the sublayer output `f` an input) and run by the
 * interpreter. The compiled kernels and this reference share nothing but the
 * checked program.
 */
export class SublayerReference {
  private readonly graph: Graph;
  readonly outputs: readonly string[];

  constructor(checked: CheckResult, conn: CheckedConnection) {
    this.graph = buildSublayerGraph(checked.checked, conn, { sublayer: "input", dtype: "f64" }).graph;
    this.outputs = this.graph.outputs.map((o) => o.name);
  }

  /** The reference output a library argument holds (`h_res` is the graph's `H_res`), if any. */
  outputFor(argument: string): string | undefined {
    return this.outputs.find((o) => o.toLowerCase() === argument.toLowerCase());
  }

  run(inputs: ReadonlyMap<string, InputArray>, wanted: readonly string[]): Record<string, Tensor> {
    const tensors: Record<string, Tensor> = {};
    for (const node of this.graph.inputs) {
      const name = node.attrs["name"] as string;
      const input = inputs.get(name);
      if (!input) throw new Error(`reference: no input \`${name}\` was generated`);
      tensors[name] = makeTensor(input.shape, input.exact);
    }
    return interpret(this.graph, tensors, { outputs: wanted });
  }
}
