import type { DeviceArena, DeviceBuffer } from "./arena.js";
import type { CudaRuntime, DevicePointer } from "./cudart.js";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { NativeError, describeThrown } from "./errors.js";
import { decodeResidual, elementBytes, hostArray, type ResidualDType } from "./host-data.js";
import type { ArgValue, EntryPoint, KernelLibrary } from "./library.js";
import { concreteShape, type ManifestArg, type ManifestEntryPoint } from "./manifest.js";

/** The scalar arguments ABI version 1 defines, besides pointers and the stream. */
const KNOWN_SCALARS = new Set(["dtype", "T", "C", "workspace_bytes"]);

export interface ProblemSize {
  readonly T: number;
  readonly C: number;
  readonly dtype: ResidualDType;
}

/** One named device array shared by every entry point that names it (so `pre` writes what `post` reads). */
export interface BoundArray {
  readonly name: string;
  readonly shape: readonly number[];
  readonly elementType: ResidualDType;
  readonly count: number;
  readonly buffer: DeviceBuffer;
}

/**
 * Whether the runtime can fill every argument of `entry` from the manifest
 * alone: shaped pointers, the workspace, the stream and the known scalars.
 * Entry points such as `workspace_size` (a host out-pointer) are called directly.
 */
export function isLaunchable(spec: ManifestEntryPoint): boolean {
  const args = spec.args;
  return (
    args.some((a) => a.shape !== undefined) &&
    args.every((a) => (a.role === "input" || a.role === "output" ? a.shape !== undefined && a.ctype.includes("*") : a.role === "workspace" || a.role === "stream" || KNOWN_SCALARS.has(a.name)))
  );
}

/** The element type of a pointer argument: the residual's dtype, or fp32. */
function elementTypeOf(arg: ManifestArg, residual: ResidualDType): ResidualDType {
  return arg.dtype === "residual" ? residual : "f32";
}

/**
 * Device memory for a set of entry points at one problem size: one array per
 * argument name, the workspace, and the scalar values; `args(entry)` gives the
 * named argument values of any of them. Everything lives in the caller's arena.
 */
export class ProblemBinding {
  readonly arrays = new Map<string, BoundArray>();
  readonly workspaceBytes: number;
  private readonly workspace: DeviceBuffer | undefined;

  constructor(
    readonly library: KernelLibrary,
    readonly size: ProblemSize,
    private readonly runtime: CudaRuntime,
    arena: DeviceArena,
    readonly entries: readonly EntryPoint[],
    private readonly stream: DevicePointer,
  ) {
    for (const entry of entries) {
      for (const arg of entry.spec.args) {
        if (arg.shape === undefined || this.arrays.has(arg.name)) continue;
        let shape: number[];
        try {
          shape = concreteShape(arg.shape, size.T, size.C);
        } catch (error) {
          throw new NativeError(Diag.BadManifest, [library.manifest.path, `\`${entry.name}\`.${arg.name}: ${describeThrown(error)}`]);
        }
        const elementType = elementTypeOf(arg, size.dtype);
        const count = shape.reduce((a, b) => a * b, 1);
        this.arrays.set(arg.name, { name: arg.name, shape, elementType, count, buffer: arena.alloc(count * elementBytes(elementType), arg.name) });
      }
    }
    this.workspaceBytes = workspaceSize(library, size.T, size.C);
    this.workspace = this.workspaceBytes > 0 ? arena.alloc(this.workspaceBytes, "workspace") : undefined;
  }

  /** The device address of the forward's workspace (null when it needs none). */
  get workspacePointer(): DevicePointer | null {
    return this.workspace?.ptr ?? null;
  }

  /**
   * Named argument values of `entry` for this problem. `given` names values
   * the caller decides (e.g. a workspace of another size function), which win
   * over the binding's own.
   */
  args(entry: EntryPoint, given: Readonly<Record<string, ArgValue>> = {}): Record<string, ArgValue> {
    const dtypeCode = this.library.manifest.dtypes[this.size.dtype];
    const values: Record<string, ArgValue> = {};
    for (const arg of entry.spec.args) {
      const array = this.arrays.get(arg.name);
      if (arg.name in given) values[arg.name] = given[arg.name] as ArgValue;
      else if (array) values[arg.name] = array.buffer.ptr;
      else if (arg.role === "workspace") values[arg.name] = this.workspace?.ptr ?? null;
      else if (arg.role === "stream") values[arg.name] = this.stream;
      else if (arg.name === "dtype") values[arg.name] = dtypeCode;
      else if (arg.name === "T") values[arg.name] = this.size.T;
      else if (arg.name === "C") values[arg.name] = this.size.C;
      else if (arg.name === "workspace_bytes") values[arg.name] = this.workspaceBytes;
      else throw new Error(`${entry.name}: argument \`${arg.name}\` cannot be filled (check isLaunchable first)`);
    }
    return values;
  }

  array(name: string): BoundArray {
    const found = this.arrays.get(name);
    if (!found) throw new Error(`no device array \`${name}\` in this binding`);
    return found;
  }

  /** Uploads float64 values into the named array, converted to its element type. */
  upload(name: string, data: Float32Array | Uint16Array): void {
    const array = this.array(name);
    if (data.length !== array.count) throw new Error(`${name}: ${data.length} values for ${array.count} elements`);
    this.runtime.upload(array.buffer.ptr, data);
  }

  /** The named array's contents as float64 (bf16 and fp32 values exactly). */
  download(name: string): Float64Array {
    const array = this.array(name);
    const host = hostArray(array.elementType, array.count);
    this.runtime.download(host, array.buffer.ptr);
    return decodeResidual(host);
  }

  /**
   * Fills the named array by repeating `block` (host data in the array's
   * element type) from its start: large inputs get realistic values without
   * generating every element on the host.
   */
  fillTiled(name: string, block: Float32Array | Uint16Array): void {
    const array = this.array(name);
    if (block.length === 0) throw new Error("fillTiled: empty block");
    const width = elementBytes(array.elementType);
    for (let start = 0; start < array.count; start += block.length) {
      const count = Math.min(block.length, array.count - start);
      const part = count === block.length ? block : block.subarray(0, count);
      this.runtime.upload(array.buffer.ptr + BigInt(start * width), part);
    }
  }

  /** Sets every byte of the named array to zero. */
  zero(name: string): void {
    const array = this.array(name);
    this.runtime.memset(array.buffer.ptr, 0, array.buffer.bytes);
  }

  /** Device bytes one binding of `entries` at `size` takes (arrays and workspace), without allocating. */
  static bytesNeeded(library: KernelLibrary, entries: readonly EntryPoint[], size: ProblemSize): number {
    const seen = new Set<string>();
    let bytes = workspaceSize(library, size.T, size.C);
    for (const entry of entries) {
      for (const arg of entry.spec.args) {
        if (arg.shape === undefined || seen.has(arg.name)) continue;
        seen.add(arg.name);
        bytes += concreteShape(arg.shape, size.T, size.C).reduce((a, b) => a * b, 1) * elementBytes(elementTypeOf(arg, size.dtype));
      }
    }
    return bytes;
  }

  /** Fills an array with a byte pattern (0xff: NaN in fp32 and bf16), so unwritten outputs show. */
  poison(name: string): void {
    const array = this.array(name);
    this.runtime.memset(array.buffer.ptr, 0xff, array.buffer.bytes);
  }
}

/** Bytes of workspace `pre` needs at (T, C), from the library's own `workspace_size`. */
export function workspaceSize(library: KernelLibrary, T: number, C: number): number {
  const entry = library.entry("workspace_size");
  if (!entry) return 0;
  const out: [number | bigint] = [0];
  entry.call({ T, C, bytes: out });
  return Number(out[0]);
}
