import { Diag } from "../../compiler/diagnostics/messages.js";
import { NativeError, describeThrown } from "./errors.js";
import { failureNotes, loadFirst, type NativeLibrary } from "./ffi.js";
import { runtimeCandidates, type NativeEnv } from "./locate.js";

/** A device pointer (or a stream or event handle): koffi's representation of `void *`. */
export type DevicePointer = bigint;

/** Host memory a copy reads or writes: its bytes are passed to CUDA directly. */
export type HostView = ArrayBufferView;

const MEMCPY = { hostToDevice: 1, deviceToHost: 2, deviceToDevice: 3 } as const;
/** cudaStreamNonBlocking: the stream does not synchronise with the legacy default stream. */
const STREAM_NON_BLOCKING = 1;

/** `cudaDeviceAttr` values used here (stable across CUDA 11-13). */
export const DeviceAttribute = { multiProcessorCount: 16, l2CacheSize: 38, computeCapabilityMajor: 75, computeCapabilityMinor: 76 } as const;

/**
 * The CUDA runtime API (`libcudart`), synchronous calls only. Every call that
 * fails throws the coded "CUDA call failed" error with CUDA's own name and text
 * of the error; nothing here returns a status to forget.
 */
export class CudaRuntime {
  readonly version: number;
  private readonly fns: RuntimeFunctions;

  private constructor(readonly path: string, library: NativeLibrary) {
    this.fns = bindRuntime(library);
    const version: [number] = [0];
    this.check(this.fns.cudaRuntimeGetVersion(version), "cudaRuntimeGetVersion");
    this.version = version[0];
  }

  static open(env: NativeEnv): CudaRuntime {
    const loaded = loadFirst(runtimeCandidates(env));
    if ("failures" in loaded) {
      throw new NativeError(Diag.CudaRuntimeMissing, [], {
        notes: failureNotes(loaded.failures),
        help: "install the CUDA toolkit (or a CUDA runtime package) and put its lib64 folder on LD_LIBRARY_PATH, or set MHC_CUDART to libcudart.so's path",
      });
    }
    try {
      return new CudaRuntime(loaded.path, loaded.library);
    } catch (error) {
      if (error instanceof NativeError) throw error;
      throw new NativeError(Diag.CudaRuntimeMissing, [], { notes: [`${loaded.path}: ${describeThrown(error)}`], help: "set MHC_CUDART to the libcudart.so of CUDA 12 or 13" });
    }
  }

  /** `cudaErrorName: text` of a cudaError_t. */
  describe(error: number): string {
    return `${String(this.fns.cudaGetErrorName(error))}: ${String(this.fns.cudaGetErrorString(error))}`;
  }

  /** Devices the runtime sees; none (or a driver it cannot use) is the coded "no device" error. */
  deviceCount(): number {
    const count: [number] = [0];
    const result = this.fns.cudaGetDeviceCount(count) as number;
    if (result !== 0) throw new NativeError(Diag.NoCudaDevice, [this.describe(result)], { notes: [`runtime library: ${this.path}`] });
    if (count[0] === 0) throw new NativeError(Diag.NoCudaDevice, ["the CUDA runtime reports 0 devices"], { notes: [`runtime library: ${this.path}`] });
    return count[0];
  }

  setDevice(ordinal: number): void {
    this.check(this.fns.cudaSetDevice(ordinal), "cudaSetDevice");
  }

  attribute(attribute: number, ordinal: number): number {
    const value: [number] = [0];
    this.check(this.fns.cudaDeviceGetAttribute(value, attribute, ordinal), "cudaDeviceGetAttribute");
    return value[0];
  }

  memoryInfo(): { free: number; total: number } {
    const free: [number | bigint] = [0];
    const total: [number | bigint] = [0];
    this.check(this.fns.cudaMemGetInfo(free, total), "cudaMemGetInfo");
    return { free: Number(free[0]), total: Number(total[0]) };
  }

  malloc(bytes: number): DevicePointer {
    const ptr: [DevicePointer | null] = [null];
    this.check(this.fns.cudaMalloc(ptr, Math.max(bytes, 1)), "cudaMalloc", `${bytes} bytes`);
    if (ptr[0] === null) throw new NativeError(Diag.CudaCallFailed, ["cudaMalloc", "returned NULL"]);
    return ptr[0];
  }

  free(ptr: DevicePointer): void {
    this.check(this.fns.cudaFree(ptr), "cudaFree");
  }

  upload(dst: DevicePointer, src: HostView): void {
    this.check(this.fns.cudaMemcpy(dst, src, src.byteLength, MEMCPY.hostToDevice), "cudaMemcpy (host to device)", `${src.byteLength} bytes`);
  }

  download(dst: HostView, src: DevicePointer): void {
    this.check(this.fns.cudaMemcpy(dst, src, dst.byteLength, MEMCPY.deviceToHost), "cudaMemcpy (device to host)", `${dst.byteLength} bytes`);
  }

  /** Enqueues a device-to-device copy on `stream` (timed by the bandwidth measurement). */
  copyAsync(dst: DevicePointer, src: DevicePointer, bytes: number, stream: DevicePointer): void {
    this.check(this.fns.cudaMemcpyAsync(dst, src, bytes, MEMCPY.deviceToDevice, stream), "cudaMemcpyAsync (device to device)");
  }

  memset(ptr: DevicePointer, byte: number, bytes: number): void {
    this.check(this.fns.cudaMemset(ptr, byte, bytes), "cudaMemset");
  }

  createStream(): DevicePointer {
    const stream: [DevicePointer | null] = [null];
    this.check(this.fns.cudaStreamCreateWithFlags(stream, STREAM_NON_BLOCKING), "cudaStreamCreateWithFlags");
    return stream[0] ?? 0n;
  }

  destroyStream(stream: DevicePointer): void {
    this.check(this.fns.cudaStreamDestroy(stream), "cudaStreamDestroy");
  }

  synchronizeStream(stream: DevicePointer): void {
    this.check(this.fns.cudaStreamSynchronize(stream), "cudaStreamSynchronize");
  }

  createEvent(): DevicePointer {
    const event: [DevicePointer | null] = [null];
    this.check(this.fns.cudaEventCreate(event), "cudaEventCreate");
    return event[0] ?? 0n;
  }

  destroyEvent(event: DevicePointer): void {
    this.check(this.fns.cudaEventDestroy(event), "cudaEventDestroy");
  }

  recordEvent(event: DevicePointer, stream: DevicePointer): void {
    this.check(this.fns.cudaEventRecord(event, stream), "cudaEventRecord");
  }

  synchronizeEvent(event: DevicePointer): void {
    this.check(this.fns.cudaEventSynchronize(event), "cudaEventSynchronize");
  }

  /** Milliseconds between two recorded events (resolution about 0.5 us). */
  elapsedMs(start: DevicePointer, end: DevicePointer): number {
    const ms: [number] = [0];
    this.check(this.fns.cudaEventElapsedTime(ms, start, end), "cudaEventElapsedTime");
    return ms[0];
  }

  private check(result: unknown, call: string, what?: string): void {
    if (result === 0) return;
    const code = result as number;
    throw new NativeError(Diag.CudaCallFailed, [call, this.describe(code)], what ? { notes: [`asked for: ${what}`] } : {});
  }
}

type RuntimeFunctions = ReturnType<typeof bindRuntime>;

function bindRuntime(library: NativeLibrary) {
  return {
    cudaRuntimeGetVersion: library.func("int cudaRuntimeGetVersion(_Out_ int *version)"),
    cudaGetErrorName: library.func("const char *cudaGetErrorName(int error)"),
    cudaGetErrorString: library.func("const char *cudaGetErrorString(int error)"),
    cudaGetDeviceCount: library.func("int cudaGetDeviceCount(_Out_ int *count)"),
    cudaSetDevice: library.func("int cudaSetDevice(int device)"),
    cudaDeviceGetAttribute: library.func("int cudaDeviceGetAttribute(_Out_ int *value, int attribute, int device)"),
    cudaMemGetInfo: library.func("int cudaMemGetInfo(_Out_ size_t *free, _Out_ size_t *total)"),
    cudaMalloc: library.func("int cudaMalloc(_Out_ void **ptr, size_t bytes)"),
    cudaFree: library.func("int cudaFree(void *ptr)"),
    cudaMemcpy: library.func("int cudaMemcpy(void *dst, const void *src, size_t bytes, int kind)"),
    cudaMemcpyAsync: library.func("int cudaMemcpyAsync(void *dst, const void *src, size_t bytes, int kind, void *stream)"),
    cudaMemset: library.func("int cudaMemset(void *ptr, int value, size_t bytes)"),
    cudaStreamCreateWithFlags: library.func("int cudaStreamCreateWithFlags(_Out_ void **stream, unsigned int flags)"),
    cudaStreamDestroy: library.func("int cudaStreamDestroy(void *stream)"),
    cudaStreamSynchronize: library.func("int cudaStreamSynchronize(void *stream)"),
    cudaEventCreate: library.func("int cudaEventCreate(_Out_ void **event)"),
    cudaEventDestroy: library.func("int cudaEventDestroy(void *event)"),
    cudaEventRecord: library.func("int cudaEventRecord(void *event, void *stream)"),
    cudaEventSynchronize: library.func("int cudaEventSynchronize(void *event)"),
    cudaEventElapsedTime: library.func("int cudaEventElapsedTime(_Out_ float *ms, void *start, void *end)"),
  };
}
