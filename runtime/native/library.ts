import { existsSync } from "node:fs";
import { join } from "node:path";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { NativeError, describeThrown } from "./errors.js";
import { koffi, type NativeFunction, type NativeLibrary } from "./ffi.js";
import { findEntryPoint, type ManifestEntryPoint, type RuntimeManifest } from "./manifest.js";

/**
 * A value for one C argument: a device pointer (`bigint`, or `null` for NULL),
 * a number for `int`/`int64_t`/`size_t`, or a one-element array that receives a
 * `size_t*` output.
 */
export type ArgValue = bigint | number | null | [number | bigint];

/** What the status codes of mhc.h mean, by name (the manifest gives the numbers). */
const STATUS_MEANING: Readonly<Record<string, string>> = {
  MHC_ERR_NULL_POINTER: "a required pointer is NULL",
  MHC_ERR_BAD_SHAPE: "bad shape (T < 0, C < 1, or too large)",
  MHC_ERR_BAD_DTYPE: "bad dtype",
  MHC_ERR_MISALIGNED: "misaligned pointer",
  MHC_ERR_WORKSPACE_TOO_SMALL: "workspace too small",
  MHC_ERR_CUDA: "a CUDA call failed",
  MHC_ERR_UNSUPPORTED: "unsupported configuration",
};

/** koffi's type for each C type of the ABI (mhc.h): pointers travel as bigint addresses. */
function ffiType(ctype: string): string | ReturnType<ReturnType<typeof koffi>["out"]> {
  switch (ctype.replace(/\s+/g, "")) {
    case "constvoid*":
    case "void*":
    case "constfloat*":
    case "float*":
    case "cudaStream_t":
      return "void *";
    case "int":
      return "int";
    case "int64_t":
      return "int64_t";
    case "size_t":
      return "size_t";
    case "size_t*":
      return koffi().out(koffi().pointer("size_t"));
    default:
      throw new Error(`unknown C type \`${ctype}\``);
  }
}

/**
 * A compiled `lib<symbol>.so` with its entry points bound from the manifest's
 * signatures. Status codes other than MHC_OK become the coded entry-point error,
 * with CUDA's own error for MHC_ERR_CUDA.
 */
export class KernelLibrary {
  private readonly bound = new Map<string, EntryPoint>();

  private constructor(
    readonly manifest: RuntimeManifest,
    readonly path: string,
    private readonly handle: NativeLibrary,
    private readonly describeCudaError: (error: number) => string,
  ) {}

  /** Loads `<dir>/lib<symbol>.so` as the manifest names it. */
  static open(dir: string, manifest: RuntimeManifest, describeCudaError: (error: number) => string): KernelLibrary {
    const path = join(dir, manifest.library);
    if (!existsSync(path)) {
      throw new NativeError(Diag.LibraryMissing, [path], { help: `build it with \`mhc compile FILE --target cuda --out DIR --build\`, or let \`mhc verify\` / \`mhc bench\` build it` });
    }
    let handle: NativeLibrary;
    try {
      handle = koffi().load(path);
    } catch (error) {
      throw new NativeError(Diag.LibraryUnloadable, [path, describeThrown(error)], { help: "rebuild it for this machine (`mhc compile FILE --target cuda --out DIR --build`)" });
    }
    return new KernelLibrary(manifest, path, handle, describeCudaError);
  }

  /**
   * `mhc_<symbol>_<suffix>`, or undefined when the manifest lists no such entry
   * point. Bound on first use: a symbol the manifest lists but the library
   * lacks is the coded "cannot load" error, and only for what is called.
   */
  entry(suffix: string): EntryPoint | undefined {
    const spec = findEntryPoint(this.manifest, suffix);
    return spec ? this.bind(spec) : undefined;
  }

  /** Binds the entry point of `spec` (a member of the manifest's lists). */
  bind(spec: ManifestEntryPoint): EntryPoint {
    const known = this.bound.get(spec.name);
    if (known) return known;
    let fn: NativeFunction;
    try {
      fn = this.handle.func(spec.name, "int", spec.args.map((a) => ffiType(a.ctype)));
    } catch (error) {
      throw new NativeError(Diag.LibraryUnloadable, [this.path, `entry point \`${spec.name}\`: ${describeThrown(error)}`], {
        help: "rebuild the library from the same compile as its manifest.json",
      });
    }
    const entry = new EntryPoint(spec, fn, this);
    this.bound.set(spec.name, entry);
    return entry;
  }

  /** Like `entry`, for the entry points ABI version 1 always has. */
  required(suffix: string): EntryPoint {
    const found = this.entry(suffix);
    if (!found) throw new NativeError(Diag.BadManifest, [this.manifest.path, `no entry point \`mhc_${this.manifest.symbol}_${suffix}\``]);
    return found;
  }

  /** The coded error for a status other than MHC_OK returned by `entry`. */
  statusError(entry: string, status: number): NativeError {
    const name = this.manifest.statusCodes.get(status) ?? `status ${status}`;
    let meaning = STATUS_MEANING[name] ?? "unknown status";
    if (name === "MHC_ERR_CUDA") {
      const last = this.entry("last_cuda_error");
      const cuda = last ? (last.invoke({}) as number) : 0;
      if (cuda !== 0) meaning = `${meaning}: ${this.describeCudaError(cuda)}`;
    }
    return new NativeError(Diag.EntryPointFailed, [entry, name, meaning]);
  }

  close(): void {
    this.handle.unload();
  }
}

/** One bound entry point: named arguments in, status out. */
export class EntryPoint {
  constructor(
    readonly spec: ManifestEntryPoint,
    private readonly fn: NativeFunction,
    private readonly library: KernelLibrary,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The arguments in C order; a missing name is a bug of the caller. */
  ordered(values: Readonly<Record<string, ArgValue>>): ArgValue[] {
    return this.spec.args.map((a) => {
      if (!(a.name in values)) throw new Error(`${this.spec.name}: no value for argument \`${a.name}\``);
      return values[a.name] as ArgValue;
    });
  }

  /** One call; returns the status code. */
  invoke(values: Readonly<Record<string, ArgValue>>): number {
    return this.fn(...this.ordered(values)) as number;
  }

  /** One call; a status other than MHC_OK throws the coded error. */
  call(values: Readonly<Record<string, ArgValue>>): void {
    const status = this.invoke(values);
    if (status !== 0) throw this.library.statusError(this.spec.name, status);
  }

  /** The argument list built once; each call of the result is one FFI call (for timing loops). */
  prepare(values: Readonly<Record<string, ArgValue>>): () => number {
    const args = this.ordered(values);
    const fn = this.fn;
    return () => fn(...args) as number;
  }

  /** Throws the coded error for a status returned by a prepared call. */
  check(status: number): void {
    if (status !== 0) throw this.library.statusError(this.spec.name, status);
  }
}
