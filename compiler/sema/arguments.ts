import type { Argument, CallExpr } from "../../grammar/ast.js";
import type { DiagnosticBag } from "../diagnostics/bag.js";
import { Diag } from "../diagnostics/messages.js";
import { didYouMean } from "../diagnostics/suggest.js";
import type { Span } from "../source/span.js";

export interface ParamSpec {
  readonly name: string;
  /** Parameters with a default may be left out. */
  readonly optional: boolean;
  /** Where the parameter is declared, for "declared here" labels. */
  readonly span?: Span;
}

/**
 * Matches a call's arguments to parameters, Python style: positional first,
 * then `name = value`. Reports unknown names (with a suggestion), duplicates,
 * surplus positional arguments and missing required ones; returns what it could
 * bind so checking goes on.
 */
export function bindArguments(call: CallExpr, params: readonly ParamSpec[], bag: DiagnosticBag, what = `\`${call.callee.name}\``): Map<string, Argument> {
  const bound = new Map<string, Argument>();
  let seenNamed = false;
  let position = 0;
  let unknownNames = 0;
  for (const arg of call.args) {
    if (arg.name) {
      seenNamed = true;
      const param = params.find((p) => p.name === arg.name!.name);
      if (!param) {
        unknownNames++;
        const help = didYouMean(arg.name.name, params.map((p) => p.name));
        bag.report(Diag.UnknownArgument, arg.name.span, [call.callee.name, arg.name.name], {
          label: "unknown parameter",
          ...(help ? { help } : { notes: [params.length === 0 ? `${what} takes no parameters` : `${what} takes ${params.map((p) => `\`${p.name}\``).join(", ")}`] }),
        });
        continue;
      }
      if (bound.has(param.name)) {
        bag.report(Diag.DuplicateArgument, arg.span, [param.name], { label: "given again here", secondary: [{ span: bound.get(param.name)!.span, message: "first given here" }] });
        continue;
      }
      bound.set(param.name, arg);
      continue;
    }
    if (seenNamed) {
      bag.report(Diag.PositionalAfterNamed, arg.span, [], { label: "positional argument", help: "give every argument after a named one by name too" });
      continue;
    }
    const param = params[position++];
    if (!param) {
      const given = call.args.filter((a) => !a.name).length;
      bag.report(Diag.TooManyArguments, arg.span, [call.callee.name, count(params.length, "argument"), `${given} ${given === 1 ? "was" : "were"}`], { label: "unexpected argument" });
      continue;
    }
    bound.set(param.name, arg);
  }
  // A misspelt name is most likely the missing parameter: one error, not two.
  if (unknownNames > 0) return bound;
  for (const param of params) {
    if (!param.optional && !bound.has(param.name)) {
      bag.report(Diag.MissingArgument, call.span, [param.name, call.callee.name], {
        label: `missing \`${param.name}\``,
        ...(param.span ? { secondary: [{ span: param.span, message: "parameter declared here" }] } : {}),
      });
    }
  }
  return bound;
}

function count(value: number, noun: string): string {
  return `${value} ${noun}${value === 1 ? "" : "s"}`;
}
