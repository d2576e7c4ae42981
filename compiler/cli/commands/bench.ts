import { join } from "node:path";
import type { Diagnostic } from "../../diagnostics/diagnostic.js";
import type { CheckResult } from "../../driver.js";
import { GpuSession, type DeviceInfo } from "../../../runtime/native/device.js";
import type { ResidualDType } from "../../../runtime/native/host-data.js";
import { KernelLibrary } from "../../../runtime/native/library.js";
import { readManifest } from "../../../runtime/native/manifest.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { version } from "../version.js";
import { libraryFlags, runOnGpu, type GpuCommandOptions } from "./native/gpu-run.js";
import { backwardEntries, benchBackward, type BackwardTiming } from "./native/backward-run.js";
import { benchShape, measureLaunchOverhead, type LaunchOverhead, type ShapeTiming } from "./native/bench-run.js";
import { benchShapes, dtypeLabel, nonNegativeInteger, parseDtypes, positiveInteger, type Shape } from "./native/options.js";
import { Progress, nativeDiagnostic } from "./native/report.js";
import { libraryFor, type LibraryFlags, type Target } from "./native/targets.js";

export interface BenchOptions extends GpuCommandOptions {
  readonly tokens?: unknown;
  readonly hidden?: unknown;
  readonly iters?: unknown;
  readonly warmup?: unknown;
}

export const BENCH_USAGE = "usage: mhc bench FILE [--connection NAME] [--n N] [--tokens T] [--hidden C] [--shapes TxC,...] [--dtype bf16|fp32] [--iters N] [--warmup N] [--json]";
/** The default problem: a prefill of 8192 tokens at hidden size 4096 (DeepSeek-V4-Flash's). */
export const BENCH_DEFAULT_SHAPE: Shape = { T: 8192, C: 4096 };

interface Settings {
  readonly shapes: readonly Shape[];
  readonly dtype: ResidualDType;
  readonly iterations: number;
  readonly warmup: number;
  readonly device: number;
  readonly flags: LibraryFlags;
}

interface ConnectionBench {
  readonly connection: string;
  readonly symbol: string;
  readonly n: number;
  readonly library: string;
  readonly reused: boolean;
  readonly buildSeconds?: number;
  readonly shapes: readonly BenchedShape[];
  readonly launch: LaunchOverhead;
  /** The backward entry points timed, or why none were. */
  readonly backward: string;
}

/** One shape's forward timings, and its backward's where the manifest has a backward section. */
type BenchedShape = ShapeTiming & { readonly backward?: BackwardTiming };

/**
 * `mhc bench FILE`: times each connection's compiled forward (pre, post, and
 * pre then post) with CUDA events, warm-up and repetitions, measures the
 * device's copy bandwidth in the same run, and prints the time, the achieved
 * bandwidth and the ratio to the copy-bandwidth floor (the byte model of
 * scripts/gpu/bench_forward.py), plus the runtime's own cost per launch.
 * Where the manifest has a backward section, the backward is timed too
 * (post_backward, pre_backward, the two in a row) against the backward floor
 * of scripts/gpu/bench_backward.py (native/backward-run.ts). `--json` prints
 * the same as one JSON record.
 */
export function benchCommand(file: string | undefined, options: BenchOptions, io: CliIO): ExitCode {
  if (!file) throw new UsageError(BENCH_USAGE);
  const settings = parseSettings(options);
  return runOnGpu<ConnectionBench>({
    file,
    options,
    io,
    verb: "benchmark",
    flags: settings.flags,
    device: settings.device,
    each: (checked, target, session, progress) => benchTarget(checked, target, session, settings, io, progress),
    print: (bench) => io.stdout.write(formatBench(bench, settings)),
    finish: (benches, device) => {
      if (options.json) io.stdout.write(JSON.stringify(jsonRecord(file, device, settings, benches), null, 1) + "\n");
      return ExitCode.Ok;
    },
  });
}

function parseSettings(options: BenchOptions): Settings {
  const dtypes = parseDtypes(options.dtype, ["bf16"]);
  if (dtypes.length !== 1) throw new UsageError("`mhc bench` times one residual dtype at a time: `--dtype bf16` or `--dtype fp32`");
  return {
    shapes: benchShapes(options, BENCH_DEFAULT_SHAPE),
    dtype: dtypes[0] as ResidualDType,
    iterations: positiveInteger("iters", options.iters, 30, 100_000),
    warmup: nonNegativeInteger("warmup", options.warmup, 5, 100_000),
    device: nonNegativeInteger("device", options.device, 0, 1023),
    flags: libraryFlags(options),
  };
}

function benchTarget(checked: CheckResult, target: Target, session: GpuSession, settings: Settings, io: CliIO, progress: Progress): ConnectionBench | { diagnostics: Diagnostic[] } {
  const built = libraryFor(checked, target, io, settings.flags);
  if (Array.isArray(built)) return { diagnostics: built };
  let library: KernelLibrary;
  try {
    library = KernelLibrary.open(built.dir, readManifest(join(built.dir, "manifest.json")), (e) => session.runtime.describe(e));
  } catch (error) {
    return { diagnostics: [nativeDiagnostic(error)] };
  }
  try {
    const backwardEntry = backwardEntries(library);
    const timing = { warmup: settings.warmup, iterations: settings.iterations };
    const shapes: BenchedShape[] = [];
    for (const [i, { T, C }] of settings.shapes.entries()) {
      const label = `[${i + 1}/${settings.shapes.length}] ${target.conn.name} T=${T} C=${C} ${dtypeLabel(settings.dtype)}`;
      progress.update(`${label}: timing the forward ...`);
      const size = { T, C, dtype: settings.dtype };
      const forward = benchShape(session, library, size, timing);
      if (!backwardEntry) {
        shapes.push(forward);
        continue;
      }
      progress.update(`${label}: timing the backward ...`);
      shapes.push({ ...forward, backward: benchBackward(session, library, backwardEntry, size, timing, forward.copy.bytesPerSecond) });
    }
    progress.update(`${target.conn.name}: launch overhead ...`);
    const launch = measureLaunchOverhead(session, library, settings.shapes[0]?.C ?? BENCH_DEFAULT_SHAPE.C, settings.dtype);
    const backward = backwardEntry ? `timed: ${Object.keys(shapes[0]?.backward?.timings ?? {}).join(", ")}` : "not in the manifest";
    return {
      connection: target.conn.name,
      symbol: library.manifest.symbol,
      n: library.manifest.n,
      library: library.path,
      reused: built.reused,
      ...(built.buildSeconds !== undefined ? { buildSeconds: built.buildSeconds } : {}),
      shapes,
      launch,
      backward,
    };
  } catch (error) {
    return { diagnostics: [nativeDiagnostic(error)] };
  } finally {
    library.close();
  }
}

/** The timings every bench has; any other key is another entry point of the library. */
const FORWARD_TIMINGS = ["pre", "post", "forward", "forwardBackToBack"];

const ms = (v: number) => `${v.toFixed(3)} ms`;
const tbps = (v: number) => (v >= 1e11 ? `${(v / 1e12).toFixed(2)} TB/s` : `${(v / 1e9).toFixed(1)} GB/s`);
const mb = (v: number) => `${(v / 1e6).toFixed(1)} MB`;

function formatBench(b: ConnectionBench, settings: Settings): string {
  const lines = [
    `library: ${b.library} (${b.reused ? "up to date, reused" : `built in ${(b.buildSeconds ?? 0).toFixed(1)} s`})`,
    `${b.connection} (n = ${b.n}), ${dtypeLabel(settings.dtype)} residual; CUDA events around each call, median of ${settings.iterations} after ${settings.warmup} warm-up calls`,
  ];
  for (const s of b.shapes) {
    const t = s.timings;
    const fwd = t["forward"]!.median;
    lines.push("");
    lines.push(`T=${s.T} C=${s.C}: pre ${ms(t["pre"]!.median)}, post ${ms(t["post"]!.median)}, pre+post ${ms(fwd)} (min ${ms(t["forward"]!.min)}; ${s.inputSets} input set(s))`);
    lines.push(`  pre+post back to back: ${ms(t["forwardBackToBack"]!.median)} per call (no host gap between calls)`);
    for (const [name, stats] of Object.entries(t)) if (!FORWARD_TIMINGS.includes(name)) lines.push(`  ${name} ${ms(stats.median)}`);
    lines.push(`  copy bandwidth ${tbps(s.copy.bytesPerSecond)} (device-to-device copy of ${mb(s.copy.bytes)}, median ${ms(s.copy.time.median)})`);
    lines.push(`  floor_3pass ${ms(s.floor3Ms)} (${mb(s.bytes.threePass)}): pre+post is ${(fwd / s.floor3Ms).toFixed(2)}x the floor, ${((100 * s.floor3Ms) / fwd).toFixed(0)}% of floor speed, ${tbps(s.achievedBytesPerSecond)} achieved`);
    lines.push(`  floor_2pass ${ms(s.floor2Ms)} (${mb(s.bytes.twoPass)}): ${(fwd / s.floor2Ms).toFixed(2)}x`);
    if (s.backward) lines.push(...formatBackward(s.backward));
  }
  const l = b.launch;
  lines.push("");
  lines.push(`backward: ${b.backward}`);
  lines.push(`launch overhead from Node (T = 1, C = ${l.C}, ${l.calls} calls back to back): FFI call ${l.ffiNoArgumentsUs.toFixed(2)} us without arguments, ${l.ffiPostNoWorkUs.toFixed(2)} us for post with all its arguments and no work`);
  lines.push(`  host time per call: pre ${l.hostPreUs.toFixed(2)} us, post ${l.hostPostUs.toFixed(2)} us; device time per call: pre ${l.devicePreUs.toFixed(2)} us, post ${l.devicePostUs.toFixed(2)} us`);
  return lines.join("\n") + "\n";
}

function formatBackward(b: BackwardTiming): string[] {
  const t = b.timings;
  const bwd = t["backward"]!.median;
  return [
    `  backward: post_backward ${ms(t["post_backward"]!.median)}, pre_backward ${ms(t["pre_backward"]!.median)}, post_backward+pre_backward ${ms(bwd)} (min ${ms(t["backward"]!.min)}; ${b.inputSets} input set(s)); save_stats ${ms(t["save_stats"]!.median)}`,
    `    floor of the entry points ${ms(b.floorEntryPointsMs)} (${mb(b.bytes.entryPoints)}): ${(bwd / b.floorEntryPointsMs).toFixed(2)}x, ${tbps(b.achievedBytesPerSecond)} achieved; post_backward ${(t["post_backward"]!.median / b.floorPostBackwardMs).toFixed(2)}x its floor, pre_backward ${(t["pre_backward"]!.median / b.floorPreBackwardMs).toFixed(2)}x`,
    `    fused floor (bench_backward.py's) ${ms(b.floorFusedMs)} (${mb(b.bytes.fused)}): ${(bwd / b.floorFusedMs).toFixed(2)}x`,
  ];
}

function jsonRecord(file: string, device: DeviceInfo, settings: Settings, benches: readonly ConnectionBench[]): object {
  return {
    format: "mhc-bench",
    formatVersion: 1,
    compiler: `mhc-lang ${version()}`,
    date: new Date().toISOString(),
    file,
    device,
    dtype: dtypeLabel(settings.dtype),
    method: `CUDA events around each call, median of ${settings.iterations} after ${settings.warmup} warm-up calls; input sets rotated over 2x L2; copy bandwidth = 2 x bytes / median time of a device-to-device cudaMemcpyAsync; forward floors as scripts/gpu/bench_forward.py; backward (post_backward with dx = NULL then pre_backward with dy and h_res, after pre, save_stats and post once) against the entry points' floor (T C e (6n + 4) + 2 phi) and bench_backward.py's fused floor (T C e (5n + 4) + 2 phi)`,
    connections: benches,
  };
}
