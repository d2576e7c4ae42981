import type { Severity } from "./diagnostic.js";

/**
 * The catalogue of every diagnostic the compiler can report. Code never holds a
 * raw message string: it reports an entry of `Diag`. Codes are grouped by phase
 * (1xxx syntax, 2xxx names and imports, 3xxx types and shapes, 4xxx connections
 * and models, 5xxx targets, 6xxx runtime inputs, 9xxx internal) and are never
 * reused; a test checks that they are unique and that each has an explanation
 * in `explain/`.
 *
 * Retired codes, never to be given to another message: MHC3017, MHC4014, MHC4015.
 */
export interface MessageDef {
  readonly code: string;
  readonly severity: Severity;
  /** Message template with `{0}`, `{1}` placeholders. */
  readonly message: string;
}

function def(code: string, severity: Severity, message: string): MessageDef {
  return { code, severity, message };
}

export const Diag = {
  // 1xxx: lexing and syntax
  UnexpectedCharacter: def("MHC1001", "error", "unexpected character `{0}`"),
  UnterminatedComment: def("MHC1002", "error", "unterminated block comment"),
  UnterminatedString: def("MHC1003", "error", "unterminated string literal"),
  MalformedNumber: def("MHC1004", "error", "malformed number `{0}`"),
  ExpectedToken: def("MHC1010", "error", "expected {0}, found {1}"),
  UnexpectedToken: def("MHC1011", "error", "unexpected {0} {1}"),
  TrailingInput: def("MHC1012", "error", "unexpected {0} after the end of {1}"),
  MisspeltKeyword: def("MHC1013", "error", "unknown declaration keyword `{0}`"),
  KeywordAsName: def("MHC1014", "error", "`{0}` is a reserved keyword and cannot be used as a name"),
  NotUtf8: def("MHC1020", "error", "`{0}` is not valid UTF-8 text"),
  BinaryFile: def("MHC1021", "error", "`{0}` looks binary (it contains a NUL byte)"),
  FileTooLarge: def("MHC1022", "error", "`{0}` is too large ({1}; the limit is {2})"),
  EmptyFile: def("MHC1023", "warning", "`{0}` declares nothing"),
  NestedTooDeeply: def("MHC1024", "error", "expression nested too deeply (more than {0} levels)"),

  // 2xxx: names and imports
  UnknownName: def("MHC2001", "error", "cannot find `{0}` in this scope"),
  UnknownFunction: def("MHC2002", "error", "cannot find a constraint or builtin named `{0}`"),
  DuplicateDeclaration: def("MHC2003", "error", "`{0}` is declared twice"),
  DuplicateParameter: def("MHC2004", "error", "parameter `{0}` is declared twice"),
  DuplicateVariable: def("MHC2005", "error", "`{0}` is already defined"),
  AssignToUndeclared: def("MHC2006", "error", "cannot assign to `{0}`: it is not declared"),
  AssignToParameter: def("MHC2007", "error", "cannot assign to parameter `{0}`"),
  ImportNotFound: def("MHC2010", "error", "cannot find imported file `{0}`"),
  ImportCycle: def("MHC2011", "error", "import cycle: {0}"),
  ImportUnreadable: def("MHC2012", "error", "cannot read imported file `{0}`: {1}"),
  ShadowsPrelude: def("MHC2020", "warning", "`{0}` shadows the prelude's `{0}`"),
  UnknownConnection: def("MHC2021", "error", "cannot find a connection named `{0}`"),
  UnknownArgument: def("MHC2023", "error", "`{0}` has no parameter named `{1}`"),
  DuplicateArgument: def("MHC2024", "error", "argument `{0}` is given twice"),
  MissingArgument: def("MHC2025", "error", "missing argument `{0}` of `{1}`"),
  TooManyArguments: def("MHC2026", "error", "`{0}` takes {1} but {2} given"),
  PositionalAfterNamed: def("MHC2027", "error", "positional argument after a named argument"),
  UnknownField: def("MHC2028", "error", "unknown field `{0}` in {1}"),
  DuplicateField: def("MHC2029", "error", "field `{0}` is set twice"),
  UnknownSublayer: def("MHC2030", "error", "unknown sublayer `{0}`"),
  ShadowsBuiltin: def("MHC2031", "error", "`{0}` is a builtin and cannot be redeclared"),
  NotAConnection: def("MHC2032", "error", "`{0}` is a {1}, not a connection"),
  NotCallable: def("MHC2033", "error", "`{0}` is a {1}, not a constraint"),
  DuplicateImport: def("MHC2034", "warning", "`{0}` is imported twice"),
  UnusedVariable: def("MHC2035", "warning", "`{0}` is assigned but never used"),
  BuiltinAsMap: def("MHC2036", "error", "`{0}` is a builtin function, not a constraint"),

  // 3xxx: types and shapes
  TypeMismatch: def("MHC3001", "error", "expected {0}, found {1}"),
  ShapeMismatch: def("MHC3002", "error", "shape mismatch in `{0}`: {1} and {2}"),
  MatmulMismatch: def("MHC3003", "error", "cannot multiply {0} by {1} with `@`"),
  ReassignShape: def("MHC3004", "error", "cannot assign {0} to `{1}`, which holds {2}"),
  ReturnShape: def("MHC3005", "error", "`{0}` returns {1} but declares {2}"),
  WrongRank: def("MHC3006", "error", "`{0}` expects {1}, found {2}"),
  BadRepeatCount: def("MHC3007", "error", "`repeat` needs a non-negative integer count known at compile time, found {0}"),
  MissingReturn: def("MHC3008", "error", "constraint `{0}` has no `return`"),
  ReturnNotLast: def("MHC3009", "error", "`return` must be the last statement of a constraint"),
  BadDimension: def("MHC3010", "error", "shape dimension must be a positive integer, found {0}"),
  NotCompileTime: def("MHC3011", "error", "{0} must be known at compile time"),
  DivisionByZero: def("MHC3012", "error", "division by zero in a compile-time expression"),
  TransposeNotMatrix: def("MHC3013", "error", "`.T` needs a matrix, found {0}"),
  LogitsNotTensor: def("MHC3015", "error", "the first parameter of constraint `{0}` must be its logits tensor"),
  PolymorphicResult: def("MHC3016", "error", "`{0}` takes logits of any shape, so it must return their shape, but it returns {1}"),
  ReturnInRepeat: def("MHC3018", "error", "`return` cannot appear inside `repeat`"),
  NoParameters: def("MHC3019", "error", "constraint `{0}` takes no logits parameter"),
  BadParameterType: def("MHC3020", "error", "unknown parameter type `{0}`"),
  ShapeTooLarge: def("MHC3021", "error", "shape {0} has {1} elements, more than the limit of {2}"),
  RepeatTooLong: def("MHC3022", "error", "`repeat` runs {0} iterations in total, more than the limit of {1}"),
  RecursiveConstraint: def("MHC3023", "error", "constraint `{0}` calls itself"),

  // 4xxx: connections and models
  SlotShape: def("MHC4001", "error", "`{0}` needs a constraint that returns {1}, but `{2}` returns {3}"),
  BadStreams: def("MHC4002", "error", "`streams` must be at least 1, found {0}"),
  MissingField: def("MHC4003", "error", "{0} is missing required field(s) {1}"),
  HeadsDivide: def("MHC4004", "error", "`dim` ({0}) must be divisible by `heads` ({1})"),
  BadEnumValue: def("MHC4005", "error", "`{0}` is not a valid {1}; expected {2}"),
  FieldRange: def("MHC4006", "error", "`{0}` must be {1}, found {2}"),
  PerStreamWidth: def("MHC4007", "error", "`projection per_stream` needs the logits of `{0}` ({1}) to be a multiple of n ({2})"),
  EmptyBlock: def("MHC4008", "error", "`block` has no sublayers"),
  KvHeadsDivide: def("MHC4009", "error", "`heads` ({0}) must be divisible by `kv_heads` ({1})"),
  InitShape: def("MHC4010", "error", "`init` of `{0}` has shape {1}, but its bias logits have shape {2}"),
  UnusedLogits: def("MHC4011", "note", "`{0}` ignores its logits, so `{1}` gets no projection"),
  BadFieldValue: def("MHC4012", "error", "`{0}` expects {1}"),
  MissingBlock: def("MHC4013", "error", "model `{0}` has no `block`"),
  StreamMismatch: def("MHC4016", "error", "this sublayer's connection has {0} streams, but the model's connection has {1}"),

  // 5xxx: targets and code generation
  TargetUnsupported: def("MHC5001", "error", "the {0} target cannot compile connection `{1}` yet: {2}"),
  NvccMissing: def("MHC5002", "error", "cannot build: nvcc was not found"),
  NvccFailed: def("MHC5003", "error", "nvcc failed to build `{0}`"),

  // 6xxx: runtime inputs and the command line's files
  InputNotFound: def("MHC6001", "error", "cannot read `{0}`: {1}"),
  NotNpy: def("MHC6002", "error", "`{0}` is not a valid .npy file: {1}"),
  TruncatedFile: def("MHC6003", "error", "`{0}` is truncated: {1}"),
  UnsupportedArray: def("MHC6004", "error", "`{0}`: {1}"),
  NotSafetensors: def("MHC6005", "error", "`{0}` is not a valid safetensors file: {1}"),
  NonFiniteInput: def("MHC6007", "error", "`{0}` contains {1} at index {2}"),
  InputShape: def("MHC6008", "error", "`{0}` has shape {1}, expected {2}"),
  MissingTensor: def("MHC6009", "error", "`{0}` has no tensor `{1}`"),
  ExtraTensor: def("MHC6010", "error", "`{0}` has an unexpected tensor `{1}`"),
  TensorShape: def("MHC6011", "error", "tensor `{1}` in `{0}` has shape {2}, expected {3}"),
  NonFiniteOutput: def("MHC6012", "error", "`{0}` produced {1} at index {2} from finite inputs"),
  CannotWrite: def("MHC6013", "error", "cannot write `{0}`: {1}"),
  BadSetting: def("MHC6014", "error", "cannot set `{0}`: {1}"),
  CorpusTooSmall: def("MHC6015", "error", "the corpus `{0}` has {1} bytes, too few for context {2}: at least {3} are needed"),
  CorpusNotUtf8: def("MHC6016", "error", "the corpus `{0}` is not valid UTF-8 (first bad byte at offset {1})"),
  TokenOutOfVocabulary: def("MHC6017", "error", "token {0} at {1} of `{2}` is outside the vocabulary of `{3}` (0 to {4})"),
  SequenceTooLong: def("MHC6018", "error", "`{0}` has {1} tokens per sequence, more than the context {2} of `{3}`"),
  TokensNotIntegers: def("MHC6019", "error", "`{0}` holds {1} values, but token ids are integers"),
  // 6020-6029: training runs and their checkpoints
  TrainingInterrupted: def("MHC6020", "error", "training `{0}` was interrupted after step {1}"),
  BadCheckpoint: def("MHC6021", "error", "`{0}` is not a usable checkpoint: {1}"),
  CheckpointMismatch: def("MHC6022", "error", "cannot resume from `{0}`: {1}"),
  TrainingDiverged: def("MHC6023", "error", "training `{0}` diverged at step {1}: {2}"),
  NoCheckpoint: def("MHC6024", "error", "`{0}` holds no checkpoint to resume"),
  // 6030-6049: the native runtime (mhc verify, mhc bench)
  CudaDriverMissing: def("MHC6030", "error", "no CUDA driver: cannot load libcuda"),
  CudaRuntimeMissing: def("MHC6031", "error", "cannot load the CUDA runtime library (libcudart)"),
  NoCudaDevice: def("MHC6032", "error", "no usable CUDA device: {0}"),
  NoSuchDevice: def("MHC6033", "error", "there is no CUDA device {0}: {1} found"),
  LibraryMissing: def("MHC6034", "error", "the compiled library `{0}` does not exist"),
  LibraryUnloadable: def("MHC6035", "error", "cannot load the compiled library `{0}`: {1}"),
  BadManifest: def("MHC6036", "error", "`{0}` is not a manifest this runtime can drive: {1}"),
  EntryPointFailed: def("MHC6037", "error", "`{0}` returned {1}: {2}"),
  CudaCallFailed: def("MHC6038", "error", "the CUDA call `{0}` failed: {1}"),
  FfiUnavailable: def("MHC6039", "error", "cannot load koffi, the FFI package the native runtime uses: {0}"),
  VerificationFailed: def("MHC6040", "error", "{0} of {1} checks of `{2}` exceed their tolerance"),

  // 9xxx: internal
  InternalError: def("MHC9001", "error", "internal compiler error: {0}"),
} as const satisfies Record<string, MessageDef>;

export type DiagName = keyof typeof Diag;

export function allMessages(): MessageDef[] {
  return Object.values(Diag);
}

export function findMessage(code: string): MessageDef | undefined {
  const wanted = code.toUpperCase();
  return allMessages().find((m) => m.code === wanted);
}
