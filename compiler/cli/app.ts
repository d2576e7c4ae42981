import { cac, type Command } from "cac";
import { checkCommand } from "./commands/check.js";
import { compileCommand, type CompileOptions } from "./commands/compile.js";
import { evalCommand, type EvalOptions } from "./commands/eval.js";
import { initCommand, type InitOptions } from "./commands/init.js";
import { trainCommand, type TrainCommandOptions } from "./commands/train.js";
import { explainCommand } from "./commands/explain.js";
import { fmtCommand, type FmtOptions } from "./commands/fmt.js";
import { vizCommand, type VizOptions } from "./commands/viz.js";
import { labCommand, type LabCommandOptions } from "./commands/lab.js";
import { runCommand, type RunOptions } from "./commands/run.js";
import { verifyCommand, type VerifyOptions } from "./commands/verify.js";
import { benchCommand, type BenchOptions } from "./commands/bench.js";
import { reportInternalError } from "./internal-error.js";
import { ExitCode, UsageError, type CliIO } from "./io.js";
import { version } from "./version.js";

/**
 * The `mhc` command line. Returns the exit code instead of exiting, so tests
 * can run it in-process. Usage mistakes exit 2 with a pointer to `--help`;
 * anything thrown that is not a usage error is an internal error (exit 70).
 */
export function runCli(argv: readonly string[], io: CliIO): ExitCode | Promise<ExitCode> {
  const cli = cac("mhc");
  let exitCode: ExitCode = ExitCode.Ok;
  // Commands that wait on I/O (loading the plotting library) finish later.
  let pending: Promise<ExitCode> | undefined;

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

  cli
    .command("compile <file>", "Generate code per connection: TensorFlow.js modules or CUDA kernels")
    .option("--target <target>", "tfjs or cuda")
    .option("--out <dir>", "Where to write the generated files and manifest.json")
    .option("--models [names]", "tfjs: also compile the file's models (all, or the named ones)")
    .option("--build", "CUDA: run nvcc and write lib<name>.so")
    .option("--arch <arch>", "CUDA: the GPU architecture for --build (default sm_90a)")
    .option("--emit <what>", "Print the IR instead: ir (as lowered) or ir-opt (after the optimisation pipeline)")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc compile examples/my-constraint.mhc --target tfjs --out generated/")
    .example("  $ mhc compile examples/my-constraint.mhc --target cuda --out kernels/ --build")
    .action((file: string, options: CompileOptions) => {
      const result = compileCommand(file, options, io);
      if (typeof result === "number") exitCode = result;
      else pending = result;
    });

  cli
    .command("init <file>", "Initial parameters of a model as safetensors, with the documented names")
    .option("--model <name>", "The model")
    .option("--out <path>", "Where to write the weights (.safetensors)")
    .option("--seed <seed>", "Random seed (default 0)")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc init examples/tiny.mhc --model tiny --out tiny.safetensors --seed 0")
    .action((file: string, options: InitOptions) => {
      pending = initCommand(file, options, io);
    });

  cli
    .command("train <file>", "Train a model with TensorFlow.js on the bundled corpus (or --data)")
    .option("--model <name>", "The model (several, comma-separated, with --compare)")
    .option("--data <path>", "A UTF-8 text file to train on (default: the bundled corpus)")
    .option("--steps <n>", "Optimisation steps (default 200)")
    .option("--lr <lr>", "Adam learning rate (default 3e-3)")
    .option("--batch <b>", "Sequences per step (default 8)")
    .option("--seed <seed>", "Random seed (default 0)")
    .option("--eval-every <n>", "Steps between evaluations (default 50)")
    .option("--out <dir>", "Where to write the log, plot and checkpoints (default runs/<model>)")
    .option("--checkpoint-every <n>", "Steps between checkpoints (default 50; one is also written at the end and on Ctrl-C)")
    .option("--resume [dir]", "Continue the checkpoint in dir (default: the --out directory) exactly where it stopped")
    .option("--weights <path>", "Start from these parameters (safetensors with the model's names, e.g. from mhc init)")
    .option("--compare [models]", "Train several models of the file with the same seed and data, and tabulate them")
    .option("--backend <name>", "wasm (default), cpu, or tensorflow (needs @tensorflow/tfjs-node)")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc train examples/tiny.mhc --compare tiny_residual,tiny_hc,tiny_mhc --steps 100")
    .action((file: string, options: TrainCommandOptions) => {
      pending = trainCommand(file, options, io);
    });

  cli
    .command("eval <file>", "Run one constraint on logits with the float64 reference interpreter")
    .option("--constraint <name>", "The constraint to evaluate")
    .option("--logits <path>", "Logits as .npy: [..., n, n], [..., n] or the constraint's own shape")
    .option("--out <path>", "Where to write the result (.npy)")
    .option("--set <name=value>", "A compile-time argument of the constraint (repeatable)")
    .option("--dtype <dtype>", "float64 (default) or float32 arithmetic")
    .option("--n <n>", "The stream count, when the logits' shape leaves it ambiguous")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc eval examples/tiny.mhc --constraint sinkhorn --logits L.npy --out H.npy --set iters=30")
    .action((file: string, options: EvalOptions) => {
      exitCode = evalCommand(file, options, io);
    });

  cli
    .command("run <file>", "Run one sublayer (identity F) with the reference interpreter, or a whole model on tokens")
    .option("--connection <name>", "The connection to run")
    .option("--input <path>", "The residual X [T, n, C] as .npy")
    .option("--model <name>", "Run this model instead: tokens in (--tokens or --text), logits out")
    .option("--tokens <path>", "--model: token ids as an integer .npy, [T] or [B, T]")
    .option("--text <text>", "--model: a text whose UTF-8 bytes are the token ids", { type: [String] })
    .option("--weights <path>", "Parameters as .safetensors (the connection's or the model's documented names)")
    .option("--out <path>", "Where to write Y [T, n, C], or the logits [T, vocab] / [B, T, vocab] (.npy)")
    .option("--backend <name>", "--model: wasm (default), cpu, or tensorflow (needs @tensorflow/tfjs-node)")
    .option("--reference", "--model: run the model's IR on the float64 interpreter (float64 logits)")
    .option("--coefficients <dir>", "Also write pre.npy, post.npy and res.npy (res[t, out, in])")
    .option("--set <name=value>", "A parameter of the connection (repeatable)")
    .option("--dtype <dtype>", "float64 (default) or float32 arithmetic")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc run examples/tiny.mhc --connection mhc --input X.npy --weights W.safetensors --out Y.npy")
    .example('  $ mhc run examples/tiny.mhc --model tiny_mhc --weights W.safetensors --text "Once upon" --out logits.npy')
    .action((file: string, options: RunOptions) => {
      const result = runCommand(file, options, io, argv);
      if (typeof result === "number") exitCode = result;
      else pending = result;
    });

  cli
    .command("fmt [...files]", "Rewrite .mhc files in the canonical layout (comments kept)")
    .option("--check", "Write nothing; exit 1 if a file is not formatted")
    .option("--stdout", "Print the formatted file instead of rewriting it")
    .option("--format <format>", "Diagnostics format: human or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc fmt examples/*.mhc")
    .example("  $ mhc fmt --check model.mhc")
    .action((files: string[], options: FmtOptions) => {
      exitCode = fmtCommand(files, options, io);
    });

  cli
    .command("viz <file>", "Draw a model, or a connection's fused kernels, as SVG (or Graphviz DOT)")
    .option("--model <name>", "The model to draw (default: the file's first model)")
    .option("--connection <name>", "Draw this connection's sublayer as the CUDA kernels run it")
    .option("--set <name=value>", "An argument of the connection (repeatable)")
    .option("--out <path>", "PICTURE.svg (default <name>.svg) or PICTURE.dot")
    .option("--stdout", "Print the Graphviz DOT source instead of writing a file")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc viz examples/tiny.mhc --model tiny_mhc --out tiny_mhc.svg")
    .example("  $ mhc viz examples/tiny.mhc --connection mhc --set n=8 --out mhc8.svg")
    .action((file: string, options: VizOptions) => {
      pending = vizCommand(file, options, io);
    });

  cli
    .command("lab [...files]", "Constraint laboratory: errors, spectral norm, composite gain over depth, plots")
    .option("--constraint <names>", "Constraints to compare, comma-separated (e.g. sinkhorn,unconstrained)")
    .option("--n <n>", "Stream count (default 4)")
    .option("--depth <depth>", "Sublayers in the composite product (default 60)")
    .option("--samples <samples>", "Random logits per scale (default 256)")
    .option("--chains <chains>", "Independent products for the composite gain (default: samples)")
    .option("--scales <scales>", "Logit scales, comma-separated (default 0.1,1,10,100,1e4)")
    .option("--seed <seed>", "Random seed (default 0)")
    .option("--set <name=value>", "A compile-time argument for every listed constraint that has it (repeatable)")
    .option("--out <dir>", "Where to write report.json and the plots (default lab-out)")
    .option("--color", "Force colour on (--no-color forces it off)")
    .example("  $ mhc lab examples/orthostochastic.mhc --constraint sinkhorn,unconstrained,orthostochastic")
    .action((files: string[], options: LabCommandOptions) => {
      pending = labCommand(files, options, io);
    });

  withGpuOptions(
    cli.command("verify <file>", "GPU: run the compiled CUDA kernels on random inputs and compare with the float64 interpreter"),
  )
    .option("--shapes <list>", "Shapes as TxC, comma-separated (default 1x7168,7x100,16x4096,1023x96,256x4096)")
    .option("--dtype <dtype>", "Residual dtype: bf16 or fp32 (default both)")
    .option("--seed <seed>", "Random seed of the inputs (default 0)")
    .example("  $ mhc verify examples/deepseek-v4-flash.mhc")
    .example("  $ mhc verify examples/tiny.mhc --connection mhc --n 8 --shapes 7x100,1023x4096 --dtype bf16")
    .action((file: string, options: VerifyOptions) => {
      exitCode = verifyCommand(file, options, io);
    });

  withGpuOptions(
    cli.command("bench <file>", "GPU: time the compiled CUDA forward (and backward) against the device's copy-bandwidth floor"),
  )
    .option("--tokens <T>", "Tokens (default 8192; a comma-separated list times each)")
    .option("--hidden <C>", "Hidden size (default 4096; a comma-separated list times each)")
    .option("--shapes <list>", "Shapes as TxC, comma-separated, instead of --tokens/--hidden")
    .option("--dtype <dtype>", "Residual dtype: bf16 (default) or fp32")
    .option("--iters <n>", "Timed calls per measurement (default 30)")
    .option("--warmup <n>", "Untimed calls first (default 5)")
    .example("  $ mhc bench examples/deepseek-v4-flash.mhc --tokens 8192 --hidden 4096")
    .example("  $ mhc bench examples/tiny.mhc --connection mhc --n 4 --shapes 8192x7168,16x4096 --json")
    .action((file: string, options: BenchOptions) => {
      exitCode = benchCommand(file, options, io);
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
    if (pending) {
      return pending.catch((error: unknown) => {
        if (error instanceof UsageError) {
          io.stderr.write(`error: ${lowerFirst(error.message)}\n  = help: run \`mhc --help\` for usage\n`);
          return ExitCode.Usage;
        }
        reportInternalError(error, argv, io);
        return ExitCode.Internal;
      });
    }
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

/**
 * The options `mhc verify` and `mhc bench` share: which connection and library,
 * which device, and how results are printed. The command's own options follow.
 */
function withGpuOptions(command: Command): Command {
  return command
    .option("--connection <name>", "The connection (default: every connection of the file)")
    .option("--n <n>", "The stream count, for a connection that takes `n`")
    .option("--device <d>", "CUDA device ordinal (default 0)")
    .option("--lib-dir <dir>", "A library built by `mhc compile --target cuda --build` (default: build and cache one)")
    .option("--cache <dir>", "Where built libraries are cached (default .mhc-cache/cuda)")
    .option("--arch <arch>", "The GPU architecture to build for (default sm_90a)")
    .option("--json", "Print the results as one JSON record")
    .option("--format <format>", "Diagnostics as human text or json", { default: "human" })
    .option("--color", "Force colour on (--no-color forces it off)");
}
