import { join, resolve } from "node:path";
import type { Diagnostic } from "../../../diagnostics/diagnostic.js";
import type { CheckResult } from "../../../driver.js";
import type { CheckedConnection } from "../../../sema/checked.js";
import { readManifest } from "../../../../runtime/native/manifest.js";
import type { CliIO } from "../../io.js";
import { chooseConnections } from "./connections.js";
import { cachedLibrary, type CachedLibrary } from "./library-cache.js";
import { nativeDiagnostic } from "./report.js";

/** The flags `mhc verify` and `mhc bench` share for finding or building the library. */
export interface LibraryFlags {
  readonly connection?: string;
  readonly n?: number;
  /** A folder written by `mhc compile --target cuda --build` for one connection. */
  readonly libDir?: string;
  /** Where built libraries are kept (default `.mhc-cache/cuda` under the working directory). */
  readonly cache?: string;
  readonly arch?: string;
}

export interface Target {
  readonly conn: CheckedConnection;
  /** A prebuilt library folder (`--lib-dir`); otherwise the library is built or reused from the cache. */
  readonly libDir?: string;
}

export const DEFAULT_CACHE = join(".mhc-cache", "cuda");
export const DEFAULT_ARCH = "sm_90a";

/**
 * The connections to run, decided before the GPU is touched. With `--lib-dir`,
 * the connection and its arguments come from that library's manifest, so the
 * reference is the connection the library was compiled from.
 */
export function planTargets(checked: CheckResult, file: string, io: CliIO, flags: LibraryFlags): { targets: Target[] } | { diagnostics: Diagnostic[] } {
  if (flags.libDir !== undefined) {
    const libDir = resolve(io.cwd, flags.libDir);
    let manifest;
    try {
      manifest = readManifest(join(libDir, "manifest.json"));
    } catch (error) {
      return { diagnostics: [nativeDiagnostic(error)] };
    }
    const chosen = chooseConnections(checked, file, io.cwd, { connection: flags.connection ?? manifest.connection, args: manifest.args, ...(flags.n !== undefined ? { n: flags.n } : {}) });
    if ("diagnostics" in chosen) return chosen;
    return { targets: chosen.connections.map((conn) => ({ conn, libDir })) };
  }
  const chosen = chooseConnections(checked, file, io.cwd, { ...(flags.connection !== undefined ? { connection: flags.connection } : {}), ...(flags.n !== undefined ? { n: flags.n } : {}) });
  if ("diagnostics" in chosen) return chosen;
  return { targets: chosen.connections.map((conn) => ({ conn })) };
}

/** The library folder of a target: `--lib-dir` as given, or a cached build. */
export function libraryFor(checked: CheckResult, target: Target, io: CliIO, flags: LibraryFlags): CachedLibrary | Diagnostic[] {
  if (target.libDir !== undefined) return { dir: target.libDir, symbol: target.conn.name, reused: true };
  return cachedLibrary(checked, target.conn, io, { cacheDir: resolve(io.cwd, flags.cache ?? DEFAULT_CACHE), arch: flags.arch ?? DEFAULT_ARCH });
}
