import { readFileSync } from "node:fs";
import { Diag } from "../../compiler/diagnostics/messages.js";
import { evalDim, type Dim } from "../../compiler/ir/shape.js";
import { NativeError, describeThrown } from "./errors.js";

/*
 * The parts of a CUDA library's manifest.json (written by `mhc compile --target
 * cuda`) that the runtime drives the library with: entry points and their
 * arguments in C order, the parameters, the status codes and dtypes. The
 * runtime reads nothing else, so kernels can change freely behind the ABI.
 */

export type ArgRole = "input" | "output" | "scalar" | "workspace" | "stream";

export interface ManifestArg {
  readonly name: string;
  readonly ctype: string;
  readonly role: ArgRole;
  /** `residual` (the dtype argument decides), `f32`, or a scalar's C type. */
  readonly dtype?: string;
  readonly shape?: readonly Dim[];
}

export interface ManifestEntryPoint {
  readonly name: string;
  readonly args: readonly ManifestArg[];
}

export interface RuntimeManifest {
  readonly path: string;
  readonly abiVersion: number;
  /** The `mhc_<symbol>_...` prefix of every entry point. */
  readonly symbol: string;
  readonly connection: string;
  /** The arguments the connection was compiled with (e.g. `{ n: 4 }`). */
  readonly args: Readonly<Record<string, number | boolean>>;
  readonly n: number;
  readonly library: string;
  readonly entryPoints: readonly ManifestEntryPoint[];
  /** The entry points of the `backward` section, when the library has one. */
  readonly backwardEntryPoints: readonly ManifestEntryPoint[];
  readonly parameters: readonly { readonly name: string; readonly shape: readonly Dim[] }[];
  /** The bias each map starts from, by slot (`pre`, `post`, `res`), row-major. */
  readonly initialBias: Readonly<Record<string, readonly number[]>>;
  readonly statusCodes: ReadonlyMap<number, string>;
  readonly dtypes: Readonly<Record<"f32" | "bf16", number>>;
}

/** ABI versions this runtime can drive. */
export const SUPPORTED_ABI_VERSIONS: readonly number[] = [1];
const ROLES: readonly string[] = ["input", "output", "scalar", "workspace", "stream"];

/** Reads and checks `manifest.json`; anything missing or unexpected is the coded manifest error. */
export function readManifest(path: string): RuntimeManifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new NativeError(Diag.BadManifest, [path, describeThrown(error)]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new NativeError(Diag.BadManifest, [path, `not JSON: ${describeThrown(error)}`]);
  }
  return parseManifest(json, path);
}

export function parseManifest(json: unknown, path: string): RuntimeManifest {
  const fail = (why: string): never => {
    throw new NativeError(Diag.BadManifest, [path, why]);
  };
  const m = record(json) ?? fail("not a JSON object");
  if (m["format"] !== "mhc-cuda") fail(`\`format\` is ${JSON.stringify(m["format"])}, expected "mhc-cuda"`);
  const abiVersion = m["abiVersion"];
  if (typeof abiVersion !== "number" || !SUPPORTED_ABI_VERSIONS.includes(abiVersion)) {
    fail(`ABI version ${JSON.stringify(abiVersion)}; this runtime drives version ${SUPPORTED_ABI_VERSIONS.join(", ")} (recompile with this mhc)`);
  }
  const connection = record(m["connection"]) ?? fail("no `connection` object");
  const symbol = str(connection["symbol"]) ?? fail("no `connection.symbol`");
  const name = str(connection["name"]) ?? symbol;
  const n = connection["n"];
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) fail("`connection.n` is not a positive integer");
  const args: Record<string, number | boolean> = {};
  for (const [key, value] of Object.entries(record(connection["args"]) ?? {})) if (typeof value === "number" || typeof value === "boolean") args[key] = value;
  const files = record(m["files"]) ?? fail("no `files` object");
  const library = str(files["library"]) ?? fail("no `files.library`");

  const readEntryPoint = (raw: unknown, i: number): ManifestEntryPoint => {
    const ep = record(raw) ?? fail(`entry point ${i} is not an object`);
    const epName = str(ep["name"]) ?? fail(`entry point ${i} has no name`);
    const args = (list(ep["args"]) ?? fail(`\`${epName}\` has no \`args\` list`)).map((rawArg, j): ManifestArg => {
      const a = record(rawArg) ?? fail(`argument ${j} of \`${epName}\` is not an object`);
      const argName = str(a["name"]) ?? fail(`argument ${j} of \`${epName}\` has no name`);
      const ctype = str(a["ctype"]) ?? fail(`\`${epName}\`.${argName} has no ctype`);
      const role = str(a["role"]);
      if (role === undefined || !ROLES.includes(role)) fail(`\`${epName}\`.${argName} has role ${JSON.stringify(a["role"])}`);
      const shape = a["shape"] === undefined ? undefined : dims(a["shape"]) ?? fail(`\`${epName}\`.${argName} has a malformed shape`);
      const dtype = str(a["dtype"]);
      return { name: argName, ctype, role: role as ArgRole, ...(dtype !== undefined ? { dtype } : {}), ...(shape ? { shape } : {}) };
    });
    return { name: epName, args };
  };
  const entryPoints = (list(m["entryPoints"]) ?? fail("no `entryPoints` list")).map(readEntryPoint);
  const backwardEntryPoints = (list(record(m["backward"])?.["entryPoints"]) ?? []).map(readEntryPoint);

  const parameters = (list(m["parameters"]) ?? fail("no `parameters` list")).map((raw, i) => {
    const p = record(raw) ?? fail(`parameter ${i} is not an object`);
    return { name: str(p["name"]) ?? fail(`parameter ${i} has no name`), shape: dims(p["shape"]) ?? fail(`parameter ${i} has a malformed shape`) };
  });

  const initialBias: Record<string, number[]> = {};
  const maps = record(connection["maps"]) ?? {};
  for (const [slot, raw] of Object.entries(maps)) {
    const bias = list(record(raw)?.["initialBias"]);
    if (bias && bias.every((v) => typeof v === "number")) initialBias[slot] = bias as number[];
  }

  const statusCodes = new Map<number, string>();
  for (const [key, value] of Object.entries(record(m["statusCodes"]) ?? fail("no `statusCodes`"))) {
    if (typeof value === "number") statusCodes.set(value, key);
  }
  const dtypeCodes = record(m["dtypes"]) ?? fail("no `dtypes`");
  const f32 = dtypeCodes["MHC_DTYPE_F32"];
  const bf16 = dtypeCodes["MHC_DTYPE_BF16"];
  if (typeof f32 !== "number" || typeof bf16 !== "number") fail("`dtypes` lacks MHC_DTYPE_F32 or MHC_DTYPE_BF16");

  return { path, abiVersion: abiVersion as number, symbol, connection: name, args, n: n as number, library, entryPoints, backwardEntryPoints, parameters, initialBias, statusCodes, dtypes: { f32: f32 as number, bf16: bf16 as number } };
}

/** The entry point `mhc_<symbol>_<suffix>`, if the manifest has it. */
export function findEntryPoint(manifest: RuntimeManifest, suffix: string): ManifestEntryPoint | undefined {
  const name = `mhc_${manifest.symbol}_${suffix}`;
  return manifest.entryPoints.find((ep) => ep.name === name) ?? manifest.backwardEntryPoints.find((ep) => ep.name === name);
}

/** A concrete shape for tokens `T` and hidden size `C` (`["T", 4, "C"]` -> `[T, 4, C]`, `"4*C"` -> 4C). */
export function concreteShape(shape: readonly Dim[], T: number, C: number): number[] {
  const bindings = new Map([["T", T], ["C", C]]);
  return shape.map((d) => evalDim(d, bindings));
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
function list(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}
function dims(v: unknown): Dim[] | undefined {
  const l = list(v);
  return l && l.every((d) => (typeof d === "number" && Number.isInteger(d) && d >= 0) || (typeof d === "string" && /^(\d+\*)?[A-Za-z_]\w*(\*[A-Za-z_]\w*)*$|^\d+$/.test(d))) ? (l as Dim[]) : undefined;
}
