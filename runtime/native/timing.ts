import type { DevicePointer } from "./cudart.js";
import type { GpuSession } from "./device.js";

/** Summary of repeated timings, in milliseconds. */
export interface TimingStats {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: number;
}

export function summarize(samples: readonly number[]): TimingStats {
  if (samples.length === 0) throw new Error("summarize: no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number, samples: sorted.length };
}

export interface EventTimingOptions {
  readonly warmup: number;
  readonly iterations: number;
}

/**
 * Device time of `work(i)` (which enqueues on the session's stream), one pair
 * of CUDA events around each call after `warmup` untimed calls; waits for each
 * call's end event before the next, so calls do not overlap. The events are
 * destroyed on every path out.
 */
export function timeWithEvents(session: GpuSession, work: (iteration: number) => void, options: EventTimingOptions): TimingStats {
  const rt = session.runtime;
  for (let i = 0; i < options.warmup; i++) work(i);
  session.synchronize();
  const start = rt.createEvent();
  let end: DevicePointer | undefined;
  try {
    end = rt.createEvent();
    const samples: number[] = [];
    for (let i = 0; i < options.iterations; i++) {
      rt.recordEvent(start, session.stream);
      work(options.warmup + i);
      rt.recordEvent(end, session.stream);
      rt.synchronizeEvent(end);
      samples.push(rt.elapsedMs(start, end));
    }
    return summarize(samples);
  } finally {
    rt.destroyEvent(start);
    if (end !== undefined) rt.destroyEvent(end);
  }
}

/**
 * Host time per call of `call` in microseconds: `count` calls back to back
 * (nothing waits between them), measured with the monotonic clock, best of
 * `rounds`. For an asynchronous launch this is what the caller pays to enqueue
 * it; the device catches up after the clock stops.
 */
export function hostMicrosPerCall(call: () => void, count: number, rounds = 5, after?: () => void): number {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < count; i++) call();
    const t1 = process.hrtime.bigint();
    after?.();
    best = Math.min(best, Number(t1 - t0) / 1e3 / count);
  }
  return best;
}
