import { join } from "node:path";

/** The environment variables the runtime reads (a subset of `process.env`). */
export type NativeEnv = Readonly<Record<string, string | undefined>>;

/**
 * Where the CUDA driver library is looked for: `MHC_LIBCUDA` alone when set
 * (tests and unusual installs), else the driver's soname through the dynamic
 * loader, then the places the NVIDIA container runtime and distributions put it.
 */
export function driverCandidates(env: NativeEnv): string[] {
  const override = env["MHC_LIBCUDA"];
  if (override) return [override];
  return ["libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1"];
}

/**
 * Where the CUDA runtime library is looked for: `MHC_CUDART` alone when set,
 * else the sonames of CUDA 13 and 12 through the dynamic loader, then the
 * toolkit under `CUDA_HOME`, `CUDA_PATH` and /usr/local/cuda. Any runtime
 * works with a compiled library: the library links its own runtime
 * statically, and both share the driver's primary context.
 */
export function runtimeCandidates(env: NativeEnv): string[] {
  const override = env["MHC_CUDART"];
  if (override) return [override];
  const roots = [env["CUDA_HOME"], env["CUDA_PATH"], "/usr/local/cuda"].filter((r): r is string => Boolean(r));
  const sonames = ["libcudart.so.13", "libcudart.so.12", "libcudart.so"];
  const inRoots = roots.flatMap((root) => [join(root, "lib64"), join(root, "targets", "x86_64-linux", "lib")].flatMap((dir) => sonames.map((s) => join(dir, s))));
  return [...sonames, ...new Set(inRoots)];
}
