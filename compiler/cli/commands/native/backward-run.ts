import { withArena } from "../../../../runtime/native/arena.js";
import { ProblemBinding } from "../../../../runtime/native/bindings.js";
import type { GpuSession } from "../../../../runtime/native/device.js";
import { NativeError } from "../../../../runtime/native/errors.js";
import { Diag } from "../../../diagnostics/messages.js";
import { elementBytes, type ResidualDType } from "../../../../runtime/native/host-data.js";
import type { ArgValue, EntryPoint, KernelLibrary } from "../../../../runtime/native/library.js";
import { concreteShape } from "../../../../runtime/native/manifest.js";
import { timeWithEvents, type TimingStats } from "../../../../runtime/native/timing.js";
import { Rng } from "../../../lab/sampling.js";
import { fillForTiming, randomBlock, type BenchSettings } from "./bench-run.js";
import { floorMs, inputSetCount } from "./floor.js";

/*
 * The byte model of the backward floor. Per step (post_backward then
 * pre_backward), with e bytes per residual element, in units of T C e, and the
 * projections phi ([n C, K] fp32) read once and their gradient written once:
 *   fused       = 5n + 4 (+ 2 phi): scripts/gpu/bench_backward.py's backward
 *                 floor. The coefficients' backward needs per-token sums over
 *                 all channels (dH = <dy, x>, <du, x>) before dx, so two passes:
 *                 x, dy, f, du read and df written (2n + 3), then x, dy, du
 *                 read and dx written (3n + 1);
 *   entryPoints = 6n + 4 (+ 2 phi): the least the two entry points of the ABI
 *                 move as a training step calls them (post_backward with dx =
 *                 NULL, pre_backward handed dy and H_res): post_backward reads
 *                 x, f, dy and writes df (2n + 2); pre_backward reads x and du
 *                 for the dH_pre sums (n + 1), then x, du, dy and writes dx
 *                 (3n + 1).
 * The fp32 per-token arrays (coefficients, their gradients, the saved stats:
 * about 100 bytes a token at n = 4) are left out, as bench_backward.py does.
 */
export interface BackwardFloorBytes {
  readonly fused: number;
  readonly entryPoints: number;
  readonly postBackward: number;
  readonly preBackward: number;
  readonly phi: number;
}

export function backwardFloorBytes(p: { T: number; C: number; n: number; elementBytes: number; phiBytes: number }): BackwardFloorBytes {
  const perStream = p.T * p.C * p.elementBytes;
  const postBackward = perStream * (2 * p.n + 2);
  const preBackward = perStream * (4 * p.n + 2) + 2 * p.phiBytes;
  return { fused: perStream * (5 * p.n + 4) + 2 * p.phiBytes, entryPoints: postBackward + preBackward, postBackward, preBackward, phi: p.phiBytes };
}

/** The backward section's entry points, bound. */
export interface BackwardEntries {
  readonly saveStats: EntryPoint;
  readonly workspaceSize: EntryPoint;
  readonly postBackward: EntryPoint;
  readonly preBackward: EntryPoint;
}

const BACKWARD_SUFFIXES = { saveStats: "save_stats", workspaceSize: "backward_workspace_size", postBackward: "post_backward", preBackward: "pre_backward" } as const;

/** The backward entry points, undefined when the manifest has no backward section; a partial section is a bad manifest. */
export function backwardEntries(library: KernelLibrary): BackwardEntries | undefined {
  if (library.manifest.backwardEntryPoints.length === 0) return undefined;
  const bound: Partial<Record<keyof BackwardEntries, EntryPoint>> = {};
  for (const [key, suffix] of Object.entries(BACKWARD_SUFFIXES) as [keyof BackwardEntries, string][]) {
    const spec = library.manifest.backwardEntryPoints.find((ep) => ep.name === `mhc_${library.manifest.symbol}_${suffix}`);
    if (!spec) throw new NativeError(Diag.BadManifest, [library.manifest.path, `the \`backward\` section has no entry point \`mhc_${library.manifest.symbol}_${suffix}\``]);
    bound[key] = library.bind(spec);
  }
  return bound as BackwardEntries;
}

/** Bytes of workspace post_backward and pre_backward need at (T, C), from the library's own size function. */
export function backwardWorkspaceSize(entries: BackwardEntries, T: number, C: number): number {
  const out: [number | bigint] = [0];
  entries.workspaceSize.call({ T, C, bytes: out });
  return Number(out[0]);
}

export interface BackwardTiming {
  readonly inputSets: number;
  /** Device time per call: `save_stats`, `post_backward`, `pre_backward`, and `backward` = post_backward then pre_backward. */
  readonly timings: Record<string, TimingStats>;
  readonly bytes: BackwardFloorBytes;
  /** The fused floor (bench_backward.py's) and the entry points' floor, in ms at the measured copy bandwidth. */
  readonly floorFusedMs: number;
  readonly floorEntryPointsMs: number;
  /** Each entry point's own floor, in ms. */
  readonly floorPostBackwardMs: number;
  readonly floorPreBackwardMs: number;
  /** entryPoints floor bytes / backward median time, in bytes per second. */
  readonly achievedBytesPerSecond: number;
  readonly workspaceBytes: number;
}

/**
 * Times the backward at one shape, everything from the manifest: per input set
 * the forward's arrays plus the stats and gradient arrays by the shapes the
 * backward entry points give, one backward workspace of the library's size;
 * pre, save_stats (with pre's workspace) and post run once so the saved state
 * is what a training step would have, and post_backward once so the dH inputs
 * of pre_backward are real. Then post_backward, pre_backward and the two in a
 * row are timed like the forward (CUDA events per call, warm-up, median, input
 * sets rotated over 2x L2), called as a training step calls them: post_backward
 * with dx = NULL and pre_backward with dy and H_res (it forms the post's dx
 * itself) and no dx_in.
 */
export function benchBackward(session: GpuSession, library: KernelLibrary, entries: BackwardEntries, size: { T: number; C: number; dtype: ResidualDType }, settings: BenchSettings, copyBytesPerSecond: number): BackwardTiming {
  const pre = library.required("pre");
  const post = library.required("post");
  const all = [pre, post, entries.saveStats, entries.postBackward, entries.preBackward];
  const workspaceBytes = backwardWorkspaceSize(entries, size.T, size.C);
  const setBytes = ProblemBinding.bytesNeeded(library, all, size);
  const free = session.runtime.memoryInfo().free;
  const sets = Math.max(1, Math.min(inputSetCount(setBytes, session.device.l2Bytes), Math.floor((0.8 * free - workspaceBytes) / Math.max(setBytes, 1))));
  const manifest = library.manifest;
  // phi as pre_backward reads it (and writes its gradient): fp32, shapes from the manifest.
  const phiBytes = entries.preBackward.spec.args
    .filter((a) => a.role === "input" && a.name.startsWith("phi_") && a.shape !== undefined)
    .reduce((sum, a) => sum + 4 * concreteShape(a.shape ?? [], size.T, size.C).reduce((p, d) => p * d, 1), 0);
  const bytes = backwardFloorBytes({ T: size.T, C: size.C, n: manifest.n, elementBytes: elementBytes(size.dtype), phiBytes });

  const timings = withArena(session.runtime, (arena) => {
    const workspace = workspaceBytes > 0 ? arena.alloc(workspaceBytes, "backward workspace").ptr : null;
    const scratch: Record<string, ArgValue> = { workspace, workspace_bytes: workspaceBytes };
    // The post's dx is left to pre_backward, which reads dy and h_res (the binding's arrays) instead.
    const postArgs: Record<string, ArgValue> = { ...scratch, dx: null };
    const preArgs: Record<string, ArgValue> = { ...scratch, dx_in: null };
    const bindings = Array.from({ length: sets }, () => new ProblemBinding(library, size, session.runtime, arena, all, session.stream));
    const rng = new Rng(13);
    const block = randomBlock(bindings[0] as ProblemBinding, rng);
    for (const b of bindings) {
      fillForTiming(b, library, rng, block);
      pre.call(b.args(pre));
      entries.saveStats.call(b.args(entries.saveStats, { pre_workspace: b.workspacePointer, pre_workspace_bytes: b.workspaceBytes }));
      post.call(b.args(post));
      entries.postBackward.call(b.args(entries.postBackward, postArgs));
    }
    session.synchronize();
    const saveStatsCalls = bindings.map((b) => entries.saveStats.prepare(b.args(entries.saveStats, { pre_workspace: b.workspacePointer, pre_workspace_bytes: b.workspaceBytes })));
    const postCalls = bindings.map((b) => entries.postBackward.prepare(b.args(entries.postBackward, postArgs)));
    const preCalls = bindings.map((b) => entries.preBackward.prepare(b.args(entries.preBackward, preArgs)));
    const timed = (entry: EntryPoint, calls: (() => number)[]) => timeWithEvents(session, (i) => entry.check((calls[i % sets] as () => number)()), settings);
    const out: Record<string, TimingStats> = {};
    out["save_stats"] = timed(entries.saveStats, saveStatsCalls);
    out["post_backward"] = timed(entries.postBackward, postCalls);
    out["pre_backward"] = timed(entries.preBackward, preCalls);
    out["backward"] = timeWithEvents(
      session,
      (i) => {
        entries.postBackward.check((postCalls[i % sets] as () => number)());
        entries.preBackward.check((preCalls[i % sets] as () => number)());
      },
      settings,
    );
    return out;
  });

  const backwardMs = (timings["backward"] as TimingStats).median;
  return {
    inputSets: sets,
    timings,
    bytes,
    floorFusedMs: floorMs(bytes.fused, copyBytesPerSecond),
    floorEntryPointsMs: floorMs(bytes.entryPoints, copyBytesPerSecond),
    floorPostBackwardMs: floorMs(bytes.postBackward, copyBytesPerSecond),
    floorPreBackwardMs: floorMs(bytes.preBackward, copyBytesPerSecond),
    achievedBytesPerSecond: bytes.entryPoints / (backwardMs * 1e-3),
    workspaceBytes,
  };
}
