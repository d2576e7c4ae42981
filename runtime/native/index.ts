/**
 * The native runtime: drives libraries compiled by `mhc compile --target cuda
 * --build` from Node through koffi (design.md 4.2). See README.md here.
 */
export { DeviceArena, withArena, type DeviceBuffer } from "./arena.js";
export { ProblemBinding, isLaunchable, workspaceSize, type BoundArray, type ProblemSize } from "./bindings.js";
export { measureCopyBandwidth, type CopyBandwidth } from "./bandwidth.js";
export { CudaRuntime, type DevicePointer } from "./cudart.js";
export { GpuSession, withGpu, formatCudaVersion, type DeviceInfo, type OpenOptions } from "./device.js";
export { NativeError } from "./errors.js";
export { decodeResidual, elementBytes, encodeResidual, fromBf16Bits, hostArray, toBf16Bits, type ResidualDType } from "./host-data.js";
export { EntryPoint, KernelLibrary, type ArgValue } from "./library.js";
export type { NativeEnv } from "./locate.js";
export { concreteShape, findEntryPoint, parseManifest, readManifest, type ManifestArg, type ManifestEntryPoint, type RuntimeManifest } from "./manifest.js";
export { hostMicrosPerCall, summarize, timeWithEvents, type TimingStats } from "./timing.js";
