// The public surface of the IR, for lowerings, passes and code generators.
export { IrError } from "./errors.js";
export { DTYPES, isFloatDType, type DType } from "./dtype.js";
export { type Dim, type Shape, broadcastShapes, formatShape, numel, shapesEqual } from "./shape.js";
export type { Attrs, AttrValue, Node, Output, RawGraph, RawNode } from "./node.js";
export { OP_NAMES, isOpName, type OpName } from "./op-names.js";
export { OPS, hasTrait, opDef, type OpDef, type Trait, type TensorType } from "./ops.js";
export { Graph, type NodeOptions } from "./graph.js";
export { Builder, type Operand, type BuilderOptions } from "./builder.js";
export { printGraph, printNode, type PrintOptions } from "./print.js";
export { parseGraph, parseRawGraph, graphFromRaw } from "./parse.js";
export { verifyGraph, assertValidGraph, type VerifyProblem } from "./verify.js";
export { interpret, evaluate, reachableNodes, type InterpretOptions, type Precision } from "./interpret.js";
export { makeTensor, fromNested, toNested, type Tensor } from "./tensor.js";
export { factorial, permutations, permutationMatrices } from "./permutations.js";
