import { Diag } from "../../compiler/diagnostics/messages.js";
import { CudaRuntime, DeviceAttribute, type DevicePointer } from "./cudart.js";
import { openDriver, type CudaDriver } from "./driver.js";
import { NativeError } from "./errors.js";
import type { NativeEnv } from "./locate.js";

/** What a report says about the GPU a number came from. */
export interface DeviceInfo {
  readonly ordinal: number;
  readonly name: string;
  /** e.g. "9.0". */
  readonly computeCapability: string;
  readonly multiprocessors: number;
  readonly l2Bytes: number;
  readonly memoryBytes: number;
  /** CUDA versions as numbers, e.g. 13000. */
  readonly driverVersion: number;
  readonly runtimeVersion: number;
  readonly driverLibrary: string;
  readonly runtimeLibrary: string;
}

export interface OpenOptions {
  readonly env: NativeEnv;
  /** The CUDA device ordinal (after CUDA_VISIBLE_DEVICES); default 0. */
  readonly device?: number;
}

/**
 * One GPU, made current on this thread, with a non-blocking stream that every
 * launch and event of the session uses. Opening it is the probe every GPU
 * command does first: no driver, no runtime or no device is a coded error
 * before anything is built or written.
 */
export class GpuSession {
  private closed = false;

  private constructor(
    readonly driver: CudaDriver,
    readonly runtime: CudaRuntime,
    readonly device: DeviceInfo,
    readonly stream: DevicePointer,
  ) {}

  static open(options: OpenOptions): GpuSession {
    const driver = openDriver(options.env);
    const runtime = CudaRuntime.open(options.env);
    const count = runtime.deviceCount();
    const ordinal = options.device ?? 0;
    if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= count) {
      throw new NativeError(Diag.NoSuchDevice, [ordinal, count], { help: `pass \`--device\` from 0 to ${count - 1}` });
    }
    runtime.setDevice(ordinal);
    const attr = (a: number) => runtime.attribute(a, ordinal);
    const device: DeviceInfo = {
      ordinal,
      name: driver.deviceName(ordinal),
      computeCapability: `${attr(DeviceAttribute.computeCapabilityMajor)}.${attr(DeviceAttribute.computeCapabilityMinor)}`,
      multiprocessors: attr(DeviceAttribute.multiProcessorCount),
      l2Bytes: attr(DeviceAttribute.l2CacheSize),
      memoryBytes: driver.totalMemory(ordinal),
      driverVersion: driver.version,
      runtimeVersion: runtime.version,
      driverLibrary: driver.path,
      runtimeLibrary: runtime.path,
    };
    return new GpuSession(driver, runtime, device, runtime.createStream());
  }

  /** Waits for everything enqueued on the session's stream. */
  synchronize(): void {
    this.runtime.synchronizeStream(this.stream);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.runtime.destroyStream(this.stream);
  }
}

/** Opens the GPU, runs `work`, and releases the stream on every path out. */
export function withGpu<T>(options: OpenOptions, work: (session: GpuSession) => T): T {
  const session = GpuSession.open(options);
  let failed = false;
  try {
    return work(session);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      session.close();
    } catch (error) {
      // After a device fault every call fails; the first error is the one to report.
      if (!failed) throw error;
    }
  }
}

/** "CUDA 13.0" from 13000. */
export function formatCudaVersion(version: number): string {
  return `${Math.floor(version / 1000)}.${Math.floor((version % 1000) / 10)}`;
}
