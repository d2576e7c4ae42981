import { createRequire } from "node:module";
import type * as KoffiModule from "koffi";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { NativeError, describeThrown } from "./errors.js";

export type Koffi = typeof KoffiModule;
export type NativeLibrary = KoffiModule.LibraryHandle;
export type NativeFunction = ReturnType<NativeLibrary["func"]>;

let cached: Koffi | undefined;

/**
 * koffi, loaded on first use: only `mhc verify` and `mhc bench` need it, and
 * its prebuilt binary is platform-specific. Every call through it is
 * synchronous: CUDA's current device and context are per thread, and koffi's
 * async calls run on worker threads.
 */
export function koffi(): Koffi {
  if (cached) return cached;
  try {
    cached = createRequire(import.meta.url)("koffi") as Koffi;
  } catch (error) {
    throw new NativeError(Diag.FfiUnavailable, [describeThrown(error).split("\n")[0] ?? ""], {
      help: "reinstall mhc-lang's dependencies (`npm install`); koffi ships prebuilt binaries for linux-x64, so no compiler is needed",
    });
  }
  return cached;
}

/**
 * The first of `candidates` that loads (a bare soname goes through the dynamic
 * loader's search path), or the reason each one failed.
 */
export function loadFirst(candidates: readonly string[]): { library: NativeLibrary; path: string } | { failures: string[] } {
  const ffi = koffi();
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      return { library: ffi.load(path), path };
    } catch (error) {
      failures.push(`${path}: ${describeThrown(error)}`);
    }
  }
  return { failures };
}

/** Notes for a library that did not load: the first reason in full, then where else was looked. */
export function failureNotes(failures: readonly string[]): string[] {
  const [first, ...rest] = failures;
  if (first === undefined) return [];
  const paths = rest.map((f) => f.slice(0, f.indexOf(": ") < 0 ? f.length : f.indexOf(": ")));
  return paths.length > 0 ? [first, `also looked for: ${paths.join(", ")}`] : [first];
}
