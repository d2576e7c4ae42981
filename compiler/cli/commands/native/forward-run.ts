import { withArena } from "../../../../runtime/native/arena.js";
import { ProblemBinding } from "../../../../runtime/native/bindings.js";
import type { GpuSession } from "../../../../runtime/native/device.js";
import type { ResidualDType } from "../../../../runtime/native/host-data.js";
import type { EntryPoint, KernelLibrary } from "../../../../runtime/native/library.js";
import type { InputArray } from "./inputs.js";

/** What one forward run on the device produced: every output argument, as float64. */
export interface ForwardResult {
  readonly outputs: Map<string, { readonly values: Float64Array; readonly elementType: ResidualDType }>;
  readonly workspaceBytes: number;
}

/** The forward entry points, in the order they run: `pre` (coefficients, u) then `post` (y). */
export function forwardEntries(library: KernelLibrary): EntryPoint[] {
  return [library.required("pre"), library.required("post")];
}

/**
 * Runs `pre` then `post` on the device with `inputs` and downloads every array
 * an entry point writes. Outputs are filled with NaN first, so an element a
 * kernel forgets to write cannot pass by accident. All device memory is freed
 * on return, also when an entry point fails.
 */
export function runForward(session: GpuSession, library: KernelLibrary, size: { T: number; C: number; dtype: ResidualDType }, inputs: ReadonlyMap<string, InputArray>): ForwardResult {
  const entries = forwardEntries(library);
  return withArena(session.runtime, (arena) => {
    const binding = new ProblemBinding(library, size, session.runtime, arena, entries, session.stream);
    const written = new Set(entries.flatMap((e) => e.spec.args.filter((a) => a.role === "output" && a.shape !== undefined).map((a) => a.name)));
    for (const [name, array] of binding.arrays) {
      const input = inputs.get(name);
      if (input) binding.upload(name, input.device);
      else if (written.has(name)) binding.poison(name);
      else throw new Error(`${library.manifest.symbol}: no input for \`${name}\`, which no entry point writes`);
    }
    for (const entry of entries) entry.call(binding.args(entry));
    session.synchronize();
    const outputs: ForwardResult["outputs"] = new Map();
    for (const name of written) outputs.set(name, { values: binding.download(name), elementType: binding.array(name).elementType });
    return { outputs, workspaceBytes: binding.workspaceBytes };
  });
}
