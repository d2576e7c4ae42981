/**
 * The public `tf.*` functions generated TensorFlow.js code may call (design.md §4.1),
 * with the kernels each one dispatches. A function is on the list only when every
 * kernel it needs, forward and backward, is registered by both the `cpu` and the
 * `wasm` backends of tfjs 4.22 (the wasm backend lacks 16 of cpu's kernels, Einsum,
 * UnsortedSegmentSum and the conv backprops among them). `tensorflow` (tfjs-node)
 * implements a superset of cpu's kernels.
 *
 * Tests check the list three ways: every kernel named here has a kernel function on
 * both backends (`tf.getKernel`); every `tf.*` call a template or a generated module
 * makes is listed; and the kernels actually dispatched by the forward and backward
 * passes of the generated modules (`tf.profile`) are all named here.
 */
export interface VettedOp {
  /** The function, as called in generated code: `tf.<fn>(...)`. */
  readonly fn: string;
  /** Kernels the forward call dispatches (empty: built in JavaScript, e.g. `tf.tensor`). */
  readonly kernels: readonly string[];
  /** Further kernels its gradient dispatches (tfjs-core's registered gradients). */
  readonly gradientKernels: readonly string[];
}

const op = (fn: string, kernels: readonly string[], gradientKernels: readonly string[] = []): VettedOp => ({ fn, kernels, gradientKernels });

export const VETTED_TF_OPS: readonly VettedOp[] = [
  // tensors from data: no kernel (the engine writes the values), no gradient
  op("scalar", []),
  op("tensor", []),
  op("tensor1d", []),
  op("eye", ["Reshape"]),
  op("fill", ["Fill"]),
  op("randomNormal", []),
  op("randomUniform", []),
  // elementwise unary
  op("neg", ["Neg"], ["Neg"]),
  op("exp", ["Exp"], ["Multiply"]),
  op("log", ["Log"], ["Cast", "RealDiv"]),
  op("sigmoid", ["Sigmoid"], ["Sub", "Multiply"]),
  op("tanh", ["Tanh"], ["Square", "Sub", "Multiply"]),
  op("abs", ["Abs"], ["Step", "Cast", "Multiply"]),
  op("sign", ["Sign"], ["ZerosLike"]),
  op("sqrt", ["Sqrt"], ["Cast", "Sqrt", "Multiply", "RealDiv"]),
  op("rsqrt", ["Rsqrt"], ["Pow", "Multiply", "Neg", "RealDiv"]),
  op("square", ["Square"], ["Cast", "Multiply"]),
  op("relu", ["Relu"], ["Step", "Cast", "Multiply"]),
  op("softplus", ["Softplus"], ["Sigmoid", "Multiply"]),
  op("reciprocal", ["Reciprocal"], ["Square", "Neg", "RealDiv"]),
  // elementwise binary (gradients reduce broadcast axes with Sum and Reshape)
  op("add", ["Add"], ["Sum", "Reshape"]),
  op("sub", ["Sub"], ["Neg", "Sum", "Reshape"]),
  op("mul", ["Multiply"], ["Cast", "Multiply", "Sum", "Reshape"]),
  op("div", ["RealDiv"], ["Cast", "RealDiv", "Multiply", "Square", "Neg", "Sum", "Reshape"]),
  op("maximum", ["Maximum"], ["Cast", "GreaterEqual", "Less", "Multiply", "Sum", "Reshape"]),
  op("minimum", ["Minimum"], ["Cast", "LessEqual", "Greater", "Multiply", "Sum", "Reshape"]),
  op("pow", ["Pow"], ["Cast", "Pow", "Sub", "Multiply", "Greater", "Log", "ZerosLike", "Select", "Sum", "Reshape"]),
  // comparisons and selection
  op("greater", ["Greater"]),
  op("greaterEqual", ["GreaterEqual"]),
  op("less", ["Less"]),
  op("lessEqual", ["LessEqual"]),
  op("equal", ["Equal"]),
  op("where", ["Select", "Tile", "Reshape"], ["ZerosLike", "Cast", "LogicalNot", "Multiply", "Sum", "Reshape"]),
  // reductions
  op("sum", ["Sum", "Reshape"], ["Reshape", "Tile", "Multiply"]),
  op("mean", ["Mean", "Reshape", "Cast", "RealDiv", "Sum"], ["Reshape", "Tile", "Multiply", "RealDiv", "Cast", "Fill"]),
  op("max", ["Max", "Reshape"], ["Reshape", "Equal", "Cast", "Multiply"]),
  op("min", ["Min", "Reshape"], ["Reshape", "Equal", "Cast", "Multiply"]),
  op("logSumExp", ["Max", "Sub", "Exp", "Sum", "Log", "Reshape", "Add"]),
  // normalisation and contraction
  op("softmax", ["Softmax"], ["Multiply", "Sum", "Sub"]),
  op("matMul", ["BatchMatMul", "Reshape"], ["BatchMatMul"]),
  // movement and conversion
  op("transpose", ["Transpose"], ["Transpose"]),
  op("reshape", ["Reshape"], ["Reshape"]),
  op("broadcastTo", ["Reshape", "Tile"], ["Slice", "Add", "Sum", "Reshape", "Fill"]),
  op("slice", ["Slice"], ["PadV2"]),
  op("concat", ["Concat", "Identity"], ["SplitV"]),
  op("cast", ["Cast"], ["Identity"]),
  // token ids to one-hot rows (model embeddings and the loss; int32 input, no gradient needed)
  op("oneHot", ["OneHot", "Reshape"], ["ZerosLike"]),
  // gradient plumbing: zero derivatives for comparisons and integer casts
  op("customGrad", ["Identity"], ["Identity"]),
  op("zerosLike", ["ZerosLike"]),
];

/**
 * Non-op helpers generated code may use: scoping (`tf.tidy`), the active backend's name
 * (`tf.getBackend`) and types (`tf.Tensor2D`, ...), which dispatch nothing.
 */
export const TF_UTILITIES: readonly string[] = ["tidy", "getBackend", "Tensor", "Tensor1D", "Tensor2D", "Tensor3D", "Tensor4D", "Scalar", "Rank", "DataType", "GradSaveFunc"];

/**
 * Names `tf.profile` reports that are not kernels: a `tf.customGrad` call is recorded under
 * the name of the scope it runs in (`forward` inside a gradient, `unnamed scope` outside
 * any named scope), its gradient function without a name. The kernels they dispatch are
 * reported one by one besides.
 */
export const PSEUDO_KERNELS: readonly string[] = ["forward", "", "unnamed scope"];

/** The vetted function names. */
export const VETTED_FUNCTIONS: ReadonlySet<string> = new Set(VETTED_TF_OPS.map((o) => o.fn));

/** Every kernel a vetted function may dispatch, forward or backward, sorted. */
export function vettedKernels(): string[] {
  return [...new Set(VETTED_TF_OPS.flatMap((o) => [...o.kernels, ...o.gradientKernels]))].sort();
}

/** The `tf.<name>` references in a piece of code (generated module or template output), comments left out. */
export function tfReferences(code: string): string[] {
  const withoutComments = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  return [...new Set([...withoutComments.matchAll(/\btf\.([A-Za-z_$][A-Za-z0-9_$]*)/g)].map((m) => m[1] as string))].sort();
}
