import { extname, resolve } from "node:path";
import { instantiateConnection } from "../../codegen/cuda/instantiate.js";
import { CudaCodegenError } from "../../codegen/cuda/emit-constraint.js";
import { makeDiagnostic } from "../../diagnostics/diagnostic.js";
import { Diag } from "../../diagnostics/messages.js";
import { didYouMean } from "../../diagnostics/suggest.js";
import type { CheckResult } from "../../driver.js";
import { writeFileAtomic } from "../../io/ndarray.js";
import { connectionDot } from "../../viz/connection-dot.js";
import { modelDot } from "../../viz/model-dot.js";
import { renderDotSvg } from "../../viz/render-svg.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";
import { checkOrReport, failWith, parseSettings } from "./common.js";

export interface VizOptions {
  readonly model?: string;
  readonly connection?: string;
  readonly set?: unknown;
  /** `.svg` (rendered) or `.dot` (Graphviz source). */
  readonly out?: string;
  /** Print the DOT source instead of writing a file. */
  readonly stdout?: boolean;
  readonly format?: string;
  readonly color?: boolean;
}

export const VIZ_USAGE = "usage: mhc viz FILE [--model NAME | --connection NAME [--set k=v]...] [--out PICTURE.svg|.dot | --stdout]";

/**
 * `mhc viz FILE`: a picture of a model (embedding, streams, the block with each
 * sublayer's connection, collapse, head, parameter counts) or of one connection's
 * sublayer as the CUDA target runs it (its kernels and what flows between them).
 * Without --model/--connection: the entry file's first model, else its first connection.
 */
export async function vizCommand(file: string | undefined, options: VizOptions, io: CliIO): Promise<ExitCode> {
  if (!file) throw new UsageError(VIZ_USAGE);
  if (options.model && options.connection) throw new UsageError(`give \`--model\` or \`--connection\`, not both; ${VIZ_USAGE}`);
  const out = options.out;
  if (out !== undefined && options.stdout) throw new UsageError(`give \`--out\` or \`--stdout\`, not both; ${VIZ_USAGE}`);
  if (out !== undefined && ![".svg", ".dot", ".gv"].includes(extname(out).toLowerCase())) {
    throw new UsageError(`\`--out ${out}\`: the picture is written as .svg or .dot (or use --stdout for DOT)`);
  }
  const settings = parseSettings(options.set);
  if (settings.size > 0 && !options.connection) throw new UsageError(`\`--set\` gives arguments to \`--connection\`; ${VIZ_USAGE}`);

  const checked = checkOrReport(file, io, options);
  if (typeof checked === "number") return checked;
  const picked = pick(checked, options);
  if ("diagnostic" in picked) return failWith([picked.diagnostic], file, io, options);

  let dot: string;
  if (picked.kind === "model") {
    dot = modelDot(checked, checked.checked.models.get(picked.name)!);
  } else {
    try {
      dot = connectionDot(checked, instantiateConnection(checked, picked.name, settings));
    } catch (e) {
      if (!(e instanceof CudaCodegenError)) throw e;
      return failWith([makeDiagnostic(Diag.BadSetting, undefined, [`--connection ${picked.name}`, e.message])], file, io, options);
    }
  }
  if (options.stdout) {
    io.stdout.write(dot);
    return ExitCode.Ok;
  }
  const path = resolve(io.cwd, out ?? `${picked.name}.svg`);
  const text = extname(path).toLowerCase() === ".svg" ? await renderDotSvg(dot) : dot;
  const written = writeFileAtomic(path, new TextEncoder().encode(text));
  if (!written.ok) return failWith([makeDiagnostic(Diag.CannotWrite, undefined, [out ?? `${picked.name}.svg`, written.reason])], file, io, options);
  io.stderr.write(`wrote ${out ?? `${picked.name}.svg`} (${picked.kind} ${picked.name})\n`);
  return ExitCode.Ok;
}

type Picked = { readonly kind: "model" | "connection"; readonly name: string } | { readonly diagnostic: ReturnType<typeof makeDiagnostic> };

function pick(checked: CheckResult, options: VizOptions): Picked {
  const entry = checked.checked.program.files.get(checked.checked.program.entries[0]!)?.displayPath;
  const models = [...checked.checked.models.keys()];
  const connections = [...checked.checked.connections.keys()];
  const unknown = (flag: string, name: string, known: readonly string[]) => {
    const help = didYouMean(name, known);
    return { diagnostic: makeDiagnostic(Diag.BadSetting, undefined, [`${flag} ${name}`, `no ${flag.slice(2)} of that name`], help ? { help } : { notes: [`the file has ${known.map((k) => `\`${k}\``).join(", ") || "none"}`] }) };
  };
  if (options.model) return checked.checked.models.has(options.model) ? { kind: "model", name: options.model } : unknown("--model", options.model, models);
  if (options.connection) return checked.checked.connections.has(options.connection) ? { kind: "connection", name: options.connection } : unknown("--connection", options.connection, connections);
  const ownModel = [...checked.checked.models.values()].find((m) => m.decl.span.file === entry);
  if (ownModel) return { kind: "model", name: ownModel.name };
  const ownConnection = [...checked.checked.connections.values()].find((c) => c.decl.span.file === entry);
  if (ownConnection) return { kind: "connection", name: ownConnection.name };
  return { diagnostic: makeDiagnostic(Diag.BadSetting, undefined, ["--model", `\`${entry ?? "the file"}\` declares no model or connection; name one with --model or --connection`]) };
}
