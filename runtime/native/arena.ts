import type { CudaRuntime, DevicePointer, HostView } from "./cudart.js";

/** One device allocation of an arena. */
export interface DeviceBuffer {
  readonly ptr: DevicePointer;
  readonly bytes: number;
  readonly label: string;
}

/**
 * Owns the device memory of one piece of work and frees all of it at once, in
 * reverse order, however the work ends: use it through `withArena`, whose
 * `finally` runs on success, on a coded error and on a bug alike.
 */
export class DeviceArena {
  private readonly buffers: DeviceBuffer[] = [];
  private disposed = false;

  constructor(private readonly runtime: CudaRuntime) {}

  /** `bytes` of device memory (256-byte aligned, as cudaMalloc gives). */
  alloc(bytes: number, label: string): DeviceBuffer {
    if (this.disposed) throw new Error(`device arena: allocating ${label} after dispose`);
    const buffer = { ptr: this.runtime.malloc(bytes), bytes, label };
    this.buffers.push(buffer);
    return buffer;
  }

  /** A device copy of host data. */
  upload(host: HostView, label: string): DeviceBuffer {
    const buffer = this.alloc(host.byteLength, label);
    this.runtime.upload(buffer.ptr, host);
    return buffer;
  }

  get allocatedBytes(): number {
    return this.buffers.reduce((sum, b) => sum + b.bytes, 0);
  }

  /**
   * Frees every buffer, newest first. A failing free does not stop the others;
   * the first failure is rethrown afterwards unless the caller is already
   * unwinding another error (then that one matters more).
   */
  dispose(): unknown {
    if (this.disposed) return undefined;
    this.disposed = true;
    let first: unknown;
    while (this.buffers.length > 0) {
      const buffer = this.buffers.pop() as DeviceBuffer;
      try {
        this.runtime.free(buffer.ptr);
      } catch (error) {
        first ??= error;
      }
    }
    return first;
  }
}

/** Runs `work` with a fresh arena and frees the arena's memory on every path out. */
export function withArena<T>(runtime: CudaRuntime, work: (arena: DeviceArena) => T): T {
  const arena = new DeviceArena(runtime);
  let failed = false;
  try {
    return work(arena);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    const freeError = arena.dispose();
    // A free that fails after a clean run is itself an error worth reporting.
    if (freeError !== undefined && !failed) throw freeError;
  }
}
