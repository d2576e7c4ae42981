import { cac } from "cac";
import { checkCommand } from "./commands/check.js";
import { explainCommand } from "./commands/explain.js";
import { reportInternalError } from "./internal-error.js";
import { ExitCode, UsageError, type CliIO } from "./io.js";
import { version } from "./version.js";

/**
 * The `mhc` command line. Returns the exit code instead of exiting, so tests
 * can run it in-process. Usage mistakes exit 2 with a pointer to `--help`;
 * anything thrown that is not a usage error is an internal error (exit 70).
 */
export function runCli(argv: readonly string[], io: CliIO): ExitCode {
  const cli = cac("mhc");
  let exitCode: ExitCode = ExitCode.Ok;

  cli
    .command("check [...files]", "Check .mhc files and report diagnostics")
    .option("--format <format>", "Output format: human or json", { default: "human" })
    .option("--verbose", "Also report notes (e.g. maps that get no projection)")
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc check examples/*.mhc")
    .example("  $ mhc check model.mhc --format json")
    .action((files: string[], options: { format?: string; verbose?: boolean; color?: boolean }) => {
      exitCode = checkCommand(files, options, io);
    });

  cli
    .command("explain [code]", "Explain a diagnostic code in detail")
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc explain MHC3002")
    .action((code: string | undefined, options: { color?: boolean }) => {
      exitCode = explainCommand(code, options, io);
    });

  cli.help();
  cli.version(version());

  try {
    const parsed = cli.parse(["node", "mhc", ...argv], { run: false });
    if (parsed.options["help"] || parsed.options["version"]) return ExitCode.Ok;
    if (!cli.matchedCommand) {
      const name = parsed.args[0];
      if (name === undefined) {
        cli.outputHelp();
        return ExitCode.Usage;
      }
      throw new UsageError(`unknown command \`${name}\``);
    }
    cli.runMatchedCommand();
    return exitCode;
  } catch (error) {
    if (error instanceof UsageError || (error instanceof Error && error.name === "CACError")) {
      io.stderr.write(`error: ${lowerFirst(error.message)}\n  = help: run \`mhc --help\` for usage\n`);
      return ExitCode.Usage;
    }
    reportInternalError(error, argv, io);
    return ExitCode.Internal;
  }
}

function lowerFirst(text: string): string {
  return text.length > 0 ? text[0]!.toLowerCase() + text.slice(1) : text;
}
