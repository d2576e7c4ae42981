import * as tf from "@tensorflow/tfjs-core";

/**
 * Loads generated TensorFlow.js modules (`mhc compile --target tfjs` output) in this
 * process, from their text: each TypeScript module is stripped of its types with
 * esbuild (`transform`, CommonJS output) and evaluated with a `require` that resolves
 * `@tensorflow/tfjs-core` to the instance this file imports (one engine, one backend,
 * whatever directory the modules were written to) and `./other.js` to the sibling
 * module of that name. Nothing is written to disk.
 *
 * esbuild is a dev dependency of mhc-lang: `mhc train` and the tests can use this; a
 * published CLI needs esbuild moved to dependencies (or the compiler emitting `.js`).
 */
export interface SourceModule {
  /** File name, e.g. `tiny.model.ts` or `mhc_n4_iters20.ts`. */
  readonly path: string;
  readonly text: string;
}

type Exports = Record<string, unknown>;

export async function loadGeneratedModules(files: readonly SourceModule[]): Promise<Map<string, Exports>> {
  const { transform } = await import("esbuild");
  const code = new Map<string, string>();
  for (const f of files) {
    if (!f.path.endsWith(".ts")) continue;
    const js = await transform(f.text, { loader: "ts", format: "cjs", target: "es2022", sourcefile: f.path });
    code.set(f.path.replace(/\.ts$/, ""), js.code);
  }
  const loaded = new Map<string, Exports>();
  const load = (stem: string, from: string): Exports => {
    const done = loaded.get(stem);
    if (done) return done;
    const text = code.get(stem);
    if (text === undefined) throw new Error(`generated module ${from} imports ./${stem}.js, which is not among the modules`);
    const module = { exports: {} as Exports };
    loaded.set(stem, module.exports);
    const requireShim = (specifier: string): unknown => {
      if (specifier === "@tensorflow/tfjs-core") return tf;
      const m = /^\.\/(.+?)(\.js)?$/.exec(specifier);
      if (m) return load(m[1]!, stem);
      throw new Error(`generated module ${stem}.ts imports ${specifier}, which a generated module may not`);
    };
    new Function("require", "module", "exports", text)(requireShim, module, module.exports);
    loaded.set(stem, module.exports);
    return module.exports;
  };
  const out = new Map<string, Exports>();
  for (const stem of code.keys()) out.set(`${stem}.ts`, load(stem, stem));
  return out;
}
