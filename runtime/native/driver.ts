import { Diag } from "../../compiler/diagnostics/messages.js";
import { NativeError, describeThrown } from "./errors.js";
import { failureNotes, loadFirst, type NativeLibrary } from "./ffi.js";
import { driverCandidates, type NativeEnv } from "./locate.js";

/** The CUDA driver (`libcuda`): its version, device facts and its error strings. */
export interface CudaDriver {
  readonly path: string;
  /** e.g. 13000 for CUDA 13.0. */
  readonly version: number;
  readonly deviceCount: number;
  deviceName(ordinal: number): string;
  totalMemory(ordinal: number): number;
  /** `CUDA_ERROR_...: text` for a CUresult. */
  describe(result: number): string;
}

/**
 * Loads libcuda and initialises it. No library, or a driver that cannot
 * initialise (no device, a driver too old, a container without the GPU), is the
 * coded "no CUDA driver / no device" error, never an exception.
 */
export function openDriver(env: NativeEnv): CudaDriver {
  const loaded = loadFirst(driverCandidates(env));
  if ("failures" in loaded) {
    throw new NativeError(Diag.CudaDriverMissing, [], {
      notes: failureNotes(loaded.failures),
      help: "run on a machine with an NVIDIA GPU and its driver; if libcuda.so.1 is installed somewhere the loader does not search, set MHC_LIBCUDA to its path",
    });
  }
  let fns: DriverFunctions;
  try {
    fns = bindDriver(loaded.library);
  } catch (error) {
    throw new NativeError(Diag.CudaDriverMissing, [], { notes: [`${loaded.path}: ${describeThrown(error)}`], help: "update the NVIDIA driver, or set MHC_LIBCUDA to the driver's libcuda.so.1" });
  }
  const describe = (result: number): string => {
    const name: [string | null] = [null];
    const text: [string | null] = [null];
    const known = fns.cuGetErrorName(result, name) === 0 && fns.cuGetErrorString(result, text) === 0;
    return known ? `${name[0] ?? "?"}: ${text[0] ?? "?"}` : `CUresult ${result}`;
  };
  const init = fns.cuInit(0) as number;
  if (init !== 0) throw new NativeError(Diag.NoCudaDevice, [`the driver does not initialise (${describe(init)})`], { notes: [`driver library: ${loaded.path}`] });
  const version: [number] = [0];
  const count: [number] = [0];
  check(fns.cuDriverGetVersion(version), "cuDriverGetVersion", describe);
  check(fns.cuDeviceGetCount(count), "cuDeviceGetCount", describe);
  const device = (ordinal: number): number => {
    const handle: [number] = [0];
    check(fns.cuDeviceGet(handle, ordinal), "cuDeviceGet", describe);
    return handle[0];
  };
  return {
    path: loaded.path,
    version: version[0],
    deviceCount: count[0],
    deviceName(ordinal) {
      const buffer = Buffer.alloc(256);
      check(fns.cuDeviceGetName(buffer, buffer.length, device(ordinal)), "cuDeviceGetName", describe);
      const end = buffer.indexOf(0);
      return buffer.subarray(0, end < 0 ? buffer.length : end).toString("utf8");
    },
    totalMemory(ordinal) {
      const bytes: [number | bigint] = [0];
      check(fns.cuDeviceTotalMem_v2(bytes, device(ordinal)), "cuDeviceTotalMem", describe);
      return Number(bytes[0]);
    },
    describe,
  };
}

function check(result: unknown, call: string, describe: (r: number) => string): void {
  if (result !== 0) throw new NativeError(Diag.CudaCallFailed, [call, describe(result as number)]);
}

type DriverFunctions = ReturnType<typeof bindDriver>;

/** The driver API entry points used; `_v2` names are the ones exported since CUDA 3.2. */
function bindDriver(library: NativeLibrary) {
  return {
    cuInit: library.func("int cuInit(unsigned int flags)"),
    cuDriverGetVersion: library.func("int cuDriverGetVersion(_Out_ int *version)"),
    cuDeviceGetCount: library.func("int cuDeviceGetCount(_Out_ int *count)"),
    cuDeviceGet: library.func("int cuDeviceGet(_Out_ int *device, int ordinal)"),
    cuDeviceGetName: library.func("int cuDeviceGetName(void *name, int len, int device)"),
    cuDeviceTotalMem_v2: library.func("int cuDeviceTotalMem_v2(_Out_ size_t *bytes, int device)"),
    cuGetErrorName: library.func("int cuGetErrorName(int error, _Out_ const char **name)"),
    cuGetErrorString: library.func("int cuGetErrorString(int error, _Out_ const char **text)"),
  };
}
