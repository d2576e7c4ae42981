import { CudaCodegenError } from "../emit-constraint.js";

/*
 * One call of a C ABI entry point in `<name>_torch.py`: the arguments are passed by position
 * (a keyword dictionary per launch costs the host microseconds at decode sizes), so their
 * order is checked here, when the binding is printed, against the manifest's list for that
 * entry point; each argument keeps its ABI name as a comment.
 */

/** Argument names of each entry point in ABI order, keyed by the entry point's short name (`pre`, `post`, ...). */
export type EntryArgs = ReadonlyMap<string, readonly string[]>;

/**
 * `lib.call("<entry>", <expr>, ...)` over several lines. `args` are `name=expr` in the ABI's
 * order; a missing, extra or misplaced name is a generator bug and throws.
 */
export function abiCallLines(entryArgs: EntryArgs, entry: string, args: readonly string[], indent: string): string[] {
  const expected = entryArgs.get(entry);
  if (!expected) throw new CudaCodegenError(`no entry point \`${entry}\` in the manifest`);
  const parsed = args.map((a) => {
    const eq = a.indexOf("=");
    if (eq <= 0) throw new CudaCodegenError(`argument \`${a}\` of \`${entry}\` is not name=expression`);
    return { name: a.slice(0, eq), expr: a.slice(eq + 1) };
  });
  const got = parsed.map((p) => p.name);
  if (got.length !== expected.length || got.some((n, i) => n !== expected[i])) {
    throw new CudaCodegenError(`arguments of \`${entry}\` (${got.join(", ")}) differ from the ABI's (${expected.join(", ")})`);
  }
  return [`${indent}lib.call(`, `${indent}    ${JSON.stringify(entry)},`, ...parsed.map((p) => `${indent}    ${p.expr},  # ${p.name}`), `${indent})`];
}
