import { withArena } from "../../../../runtime/native/arena.js";
import { measureCopyBandwidth, type CopyBandwidth } from "../../../../runtime/native/bandwidth.js";
import { ProblemBinding, isLaunchable } from "../../../../runtime/native/bindings.js";
import type { GpuSession } from "../../../../runtime/native/device.js";
import { elementBytes, encodeResidual, type ResidualDType } from "../../../../runtime/native/host-data.js";
import type { EntryPoint, KernelLibrary } from "../../../../runtime/native/library.js";
import { concreteShape } from "../../../../runtime/native/manifest.js";
import { hostMicrosPerCall, timeWithEvents, type TimingStats } from "../../../../runtime/native/timing.js";
import { Rng } from "../../../lab/sampling.js";
import { bandwidthProbeBytes, floorBytes, floorMs, inputSetCount, type FloorBytes } from "./floor.js";
import { parameterValues } from "./inputs.js";

export interface BenchSettings {
  readonly warmup: number;
  readonly iterations: number;
}

export interface ShapeTiming {
  readonly T: number;
  readonly C: number;
  readonly n: number;
  readonly dtype: ResidualDType;
  readonly inputSets: number;
  /**
   * Device time per call (CUDA events, one pair per call), by entry point, plus
   * `forward` = pre then post, and `forwardBackToBack` = pre then post repeated
   * with one event pair around all calls, divided by the calls.
   */
  readonly timings: Record<string, TimingStats>;
  readonly copy: CopyBandwidth;
  readonly bytes: FloorBytes;
  readonly floor3Ms: number;
  readonly floor2Ms: number;
  /** floor_3pass bytes / forward median time, in bytes per second. */
  readonly achievedBytesPerSecond: number;
  readonly workspaceBytes: number;
}

/** Values of a large random block: enough to look like data, small enough to make quickly. */
const BLOCK_ELEMENTS = 1 << 20;

/**
 * Times the forward at one shape the way scripts/gpu/bench_forward.py does: a
 * pair of CUDA events around each call, after warm-up, medians; input sets
 * rotated so that small problems are not timed from L2; the device's copy
 * bandwidth measured in the same run for the floors. Other forward entry
 * points the runtime can fill from the manifest alone are timed too.
 */
export function benchShape(session: GpuSession, library: KernelLibrary, size: { T: number; C: number; dtype: ResidualDType }, settings: BenchSettings): ShapeTiming {
  const forward = [library.required("pre"), library.required("post")];
  // The backward section's entry points need saved state and a workspace of their own: backward-run.ts times them.
  const others = library.manifest.entryPoints
    .filter((spec) => !forward.some((f) => f.spec === spec) && isLaunchable(spec) && !spec.args.some((a) => a.role === "workspace"))
    .map((spec) => library.bind(spec));
  const entries = [...forward, ...others];
  const setBytes = ProblemBinding.bytesNeeded(library, entries, size);
  const free = session.runtime.memoryInfo().free;
  const sets = Math.max(1, Math.min(inputSetCount(setBytes, session.device.l2Bytes), Math.floor((0.8 * free) / Math.max(setBytes, 1))));
  const manifest = library.manifest;
  const phiBytes = manifest.parameters.filter((p) => p.name.startsWith("phi_")).reduce((sum, p) => sum + 4 * concreteShape(p.shape, size.T, size.C).reduce((a, b) => a * b, 1), 0);
  const bytes = floorBytes({ T: size.T, C: size.C, n: manifest.n, elementBytes: elementBytes(size.dtype), phiBytes });

  const timings = withArena(session.runtime, (arena) => {
    const bindings = Array.from({ length: sets }, () => new ProblemBinding(library, size, session.runtime, arena, entries, session.stream));
    const rng = new Rng(7);
    const block = randomBlock(bindings[0] as ProblemBinding, rng);
    for (const binding of bindings) fillForTiming(binding, library, rng, block);
    const calls = (entry: EntryPoint) => bindings.map((b) => entry.prepare(b.args(entry)));
    const timed = (entry: EntryPoint): TimingStats => {
      const prepared = calls(entry);
      return timeWithEvents(session, (i) => entry.check((prepared[i % sets] as () => number)()), settings);
    };
    // One clean forward first: post reads the coefficients pre writes.
    for (const b of bindings) for (const entry of forward) entry.call(b.args(entry));
    session.synchronize();
    const out: Record<string, TimingStats> = {};
    const [pre, post] = forward as [EntryPoint, EntryPoint];
    out["pre"] = timed(pre);
    out["post"] = timed(post);
    const preCalls = calls(pre);
    const postCalls = calls(post);
    out["forward"] = timeWithEvents(
      session,
      (i) => {
        pre.check((preCalls[i % sets] as () => number)());
        post.check((postCalls[i % sets] as () => number)());
      },
      settings,
    );
    // The same calls back to back, one event pair around all of them: device time
    // per call without the host's gap between calls (which per-call events include
    // and which dominates tiny shapes).
    const forwardLoop = timeWithEvents(
      session,
      () => {
        for (let i = 0; i < settings.iterations; i++) {
          pre.check((preCalls[i % sets] as () => number)());
          post.check((postCalls[i % sets] as () => number)());
        }
      },
      { warmup: 1, iterations: 3 },
    );
    out["forwardBackToBack"] = { ...forwardLoop, median: forwardLoop.median / settings.iterations, min: forwardLoop.min / settings.iterations, max: forwardLoop.max / settings.iterations };
    for (const entry of others) out[shortName(library, entry)] = timed(entry);
    return { out, workspaceBytes: bindings[0]?.workspaceBytes ?? 0 };
  });

  const copy = measureCopyBandwidth(session, bandwidthProbeBytes(bytes), settings);
  const forwardMs = (timings.out["forward"] as TimingStats).median;
  return {
    T: size.T,
    C: size.C,
    n: manifest.n,
    dtype: size.dtype,
    inputSets: sets,
    timings: timings.out,
    copy,
    bytes,
    floor3Ms: floorMs(bytes.threePass, copy.bytesPerSecond),
    floor2Ms: floorMs(bytes.twoPass, copy.bytesPerSecond),
    achievedBytesPerSecond: bytes.threePass / (forwardMs * 1e-3),
    workspaceBytes: timings.workspaceBytes,
  };
}

/** `pre` for `mhc_<symbol>_pre`. */
export function shortName(library: KernelLibrary, entry: EntryPoint): string {
  const prefix = `mhc_${library.manifest.symbol}_`;
  return entry.name.startsWith(prefix) ? entry.name.slice(prefix.length) : entry.name;
}

/**
 * Realistic values for timing: parameters as `mhc verify` draws them, other
 * inputs a repeated block of normal values (kernels do the same work for any
 * finite data), outputs zeroed.
 */
export function fillForTiming(binding: ProblemBinding, library: KernelLibrary, rng: Rng, block: Float64Array): void {
  const parameters = new Set(library.manifest.parameters.map((p) => p.name));
  for (const [name, array] of binding.arrays) {
    if (parameters.has(name)) binding.upload(name, encodeResidual(parameterValues(library.manifest, name, array.count, binding.size.C, rng), "f32"));
    else if (binding.entries.some((e) => e.spec.args.some((a) => a.name === name && a.role === "input"))) binding.fillTiled(name, encodeResidual(block.subarray(0, Math.min(block.length, array.count)), array.elementType));
    else binding.zero(name);
  }
}

/** Normal values to tile the largest array with (at most BLOCK_ELEMENTS of them). */
export function randomBlock(binding: ProblemBinding, rng: Rng): Float64Array {
  const largest = Math.max(1, ...[...binding.arrays.values()].map((a) => a.count));
  return rng.gaussians(Math.min(BLOCK_ELEMENTS, largest));
}

export interface LaunchOverhead {
  readonly C: number;
  readonly dtype: ResidualDType;
  /** Host microseconds per FFI call of `last_cuda_error` (no arguments, no CUDA call). */
  readonly ffiNoArgumentsUs: number;
  /** Host microseconds per call of `post` with T = 0: every argument marshalled, the C checks run, nothing launched. */
  readonly ffiPostNoWorkUs: number;
  /** Host microseconds per call of `pre` / `post` at T = 1, back to back: what the caller pays per launch. */
  readonly hostPreUs: number;
  readonly hostPostUs: number;
  /** Device microseconds per call at T = 1 (events around the same back-to-back loop). */
  readonly devicePreUs: number;
  readonly devicePostUs: number;
  readonly calls: number;
}

/**
 * The runtime's own cost per launch from Node. The FFI crossing with the full
 * argument list (`post` at T = 0 returns after its argument checks, so no CUDA
 * work) is what Node adds over a C caller; the host time of real launches at
 * T = 1 includes CUDA's own launch cost, and the event time says whether the
 * device or the host is the bottleneck.
 */
export function measureLaunchOverhead(session: GpuSession, library: KernelLibrary, C: number, dtype: ResidualDType, calls = 2000): LaunchOverhead {
  const [pre, post] = [library.required("pre"), library.required("post")];
  const last = library.required("last_cuda_error");
  return withArena(session.runtime, (arena) => {
    const binding = new ProblemBinding(library, { T: 1, C, dtype }, session.runtime, arena, [pre, post], session.stream);
    const rng = new Rng(11);
    fillForTiming(binding, library, rng, randomBlock(binding, rng));
    pre.call(binding.args(pre));
    post.call(binding.args(post));
    session.synchronize();
    const noArgs = last.prepare({});
    const ffiNoArgumentsUs = hostMicrosPerCall(() => void noArgs(), calls * 10);
    const empty = post.prepare({ ...binding.args(post), T: 0 });
    const ffiPostNoWorkUs = hostMicrosPerCall(() => post.check(empty()), calls * 10);
    const sync = () => session.synchronize();
    const preCall = pre.prepare(binding.args(pre));
    const postCall = post.prepare(binding.args(post));
    const hostPreUs = hostMicrosPerCall(() => pre.check(preCall()), calls, 5, sync);
    const hostPostUs = hostMicrosPerCall(() => post.check(postCall()), calls, 5, sync);
    const loop = (entry: EntryPoint, call: () => number) => () => {
      for (let i = 0; i < calls; i++) entry.check(call());
    };
    const devicePreUs = (timeWithEvents(session, loop(pre, preCall), { warmup: 1, iterations: 3 }).median * 1e3) / calls;
    const devicePostUs = (timeWithEvents(session, loop(post, postCall), { warmup: 1, iterations: 3 }).median * 1e3) / calls;
    return { C, dtype, ffiNoArgumentsUs, ffiPostNoWorkUs, hostPreUs, hostPostUs, devicePreUs, devicePostUs, calls };
  });
}
