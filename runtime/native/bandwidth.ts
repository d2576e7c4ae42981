import { withArena } from "./arena.js";
import type { GpuSession } from "./device.js";
import { timeWithEvents, type TimingStats } from "./timing.js";

export interface CopyBandwidth {
  /** Bytes of one copy (each is read once and written once). */
  readonly bytes: number;
  readonly time: TimingStats;
  /** (bytes read + bytes written) / median time, in bytes per second. */
  readonly bytesPerSecond: number;
}

/**
 * The device's practical memory bandwidth, measured the way the floors of
 * `mhc bench` need it: a device-to-device cudaMemcpyAsync of `bytes`, timed with
 * events, counting the bytes read plus the bytes written.
 */
export function measureCopyBandwidth(session: GpuSession, bytes: number, options: { warmup: number; iterations: number }): CopyBandwidth {
  return withArena(session.runtime, (arena) => {
    const src = arena.alloc(bytes, "copy source");
    const dst = arena.alloc(bytes, "copy destination");
    session.runtime.memset(src.ptr, 0x3c, bytes);
    const time = timeWithEvents(session, () => session.runtime.copyAsync(dst.ptr, src.ptr, bytes, session.stream), options);
    return { bytes, time, bytesPerSecond: (2 * bytes) / (time.median * 1e-3) };
  });
}
