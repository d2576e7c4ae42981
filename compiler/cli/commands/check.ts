import { checkFiles } from "../../driver.js";
import { formatJson } from "../../diagnostics/json.js";
import { renderDiagnostics, renderSummary, useColor } from "../../diagnostics/render.js";
import { ExitCode, UsageError, type CliIO } from "../io.js";

export interface CheckCommandOptions {
  readonly format?: string;
  readonly verbose?: boolean;
  readonly color?: boolean;
}

/**
 * `mhc check FILE...`: diagnostics only. Human output goes to stderr (the
 * diagnostics are the messages of this command); `--format json` prints one
 * JSON array on stdout for tools.
 */
export function checkCommand(files: readonly string[], options: CheckCommandOptions, io: CliIO): ExitCode {
  const format = options.format ?? "human";
  if (format !== "human" && format !== "json") throw new UsageError(`unknown format \`${format}\`; expected \`human\` or \`json\``);
  if (files.length === 0) throw new UsageError("no input files; usage: mhc check FILE...");
  const result = checkFiles(files, { verbose: options.verbose ?? false, cwd: io.cwd });
  if (format === "json") {
    io.stdout.write(formatJson(result.diagnostics, result.sources));
  } else {
    const color = useColor(io.stderr, options.color, io.env);
    if (result.diagnostics.length > 0) io.stderr.write(renderDiagnostics(result.diagnostics, result.sources, { color }) + "\n");
    io.stderr.write(renderSummary(files, result, { color }));
    if (options.verbose && result.errorCount === 0) {
      const { models, connections } = result.checked;
      io.stderr.write(`checked ${files.length} file(s): ${models.size} model(s), ${connections.size} connection(s) ok\n`);
    }
  }
  return result.errorCount > 0 ? ExitCode.UserError : ExitCode.Ok;
}
