import { reachableNodes } from "../../ir/interpret.js";
import { posix } from "node:path";
import { IrError } from "../../ir/errors.js";
import type { Graph } from "../../ir/graph.js";
import type { Node } from "../../ir/node.js";
import { hasTrait } from "../../ir/ops.js";
import type { Dim } from "../../ir/shape.js";
import { ALPHA_INDEX } from "../../lower/parameters.js";
import { PRELUDE_DISPLAY_PATH } from "../../sema/program.js";
import type { SourceSet } from "../../source/source-set.js";
import type { Span } from "../../source/span.js";
import type { ConnectionInfo } from "./connection-info.js";
import { coefficientRegion, customGradientHelper } from "./custom-gradients.js";
import { emitNodes, ModuleData, type FusedCall } from "./emit-graph.js";
import { jsDim, jsNumber } from "./templates.js";

/** Standard deviation of the normal initialisation of `phi_*` (the paper gives none; GPT-2's 0.02). */
export const PHI_INIT_STD = 0.02;

export const COEFFICIENTS = ["u", "H_pre", "H_post", "H_res"] as const;
const TENSOR_TYPES: Readonly<Record<string, string>> = { y: "tf.Tensor3D", u: "tf.Tensor2D", H_pre: "tf.Tensor2D", H_post: "tf.Tensor2D", H_res: "tf.Tensor3D", f: "tf.Tensor2D" };

export interface ModuleContext {
  readonly info: ConnectionInfo;
  /** The optimised sublayer graph: inputs `x`, the parameters, `f`; outputs `y, u, H_pre, H_post, H_res`. */
  readonly graph: Graph;
  readonly sources: SourceSet;
  /** Display path of the compiled file (spans are shown relative to its directory). */
  readonly entry: string;
  readonly compilerVersion: string;
  /** Where the connection is declared, as location comments show it (`std.mhc`). */
  readonly declaredIn: string;
  /** Wrap each map's coefficient computation in a `tf.customGrad` (default true; see `custom-gradients.ts`). */
  readonly customGradients?: boolean;
}

/** A source file as generated code names it: relative to the compiled file's directory, the prelude as `std.mhc`. */
export function shownPath(file: string, entry: string): string {
  if (file === PRELUDE_DISPLAY_PATH) return "std.mhc";
  const slash = (p: string) => p.split("\\").join("/");
  return posix.relative(posix.dirname(slash(entry)), slash(file));
}

/** Where a span points, as a comment: `std.mhc:96  M = M / (rowsum(M) + eps)`. */
export function spanLocator(sources: SourceSet, entry: string): (span: Span) => string | undefined {
  return (span) => {
    const file = sources.get(span.file);
    if (!file) return undefined;
    const shown = shownPath(span.file, entry);
    const { line } = file.positionAt(span.start);
    const text = file.lineText(line).trim().replace(/\s+/g, " ");
    return `${shown}:${line}${text ? `  ${text}` : ""}`;
  };
}

function output(graph: Graph, name: string): Node {
  const node = graph.findOutput(name);
  if (!node) throw new IrError(`tfjs codegen: the sublayer graph has no output ${name}`);
  return node;
}

function reachable(roots: readonly Node[]): Set<Node> {
  return new Set(reachableNodes(roots));
}

const shapeLiteral = (shape: readonly Dim[]): string => `[${shape.map(jsDim).join(", ")}]`;
const quote = (s: string): string => JSON.stringify(s);

/**
 * The `tf.customGrad` call replacing each map's coefficient computation (H_pre, H_post,
 * H_res), where one can be made (`custom-gradients.ts`).
 */
function coefficientCalls(info: ConnectionInfo, graph: Graph, data: ModuleData, locate: (span: Span) => string | undefined, unspannedLabel: string): Map<Node, FusedCall> {
  const outputs = graph.outputs.map((o) => o.node);
  const calls = new Map<Node, FusedCall>();
  for (const slot of ["pre", "post", "res"] as const) {
    const root = output(graph, `H_${slot}`);
    if (calls.has(root) || root.op === "input" || root.inputs.length === 0) continue;
    const region = coefficientRegion(outputs, root);
    if ([...calls.keys()].some((other) => region.nodes.has(other))) continue;
    const m = info.maps[slot];
    const args = m.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ");
    const name = `${slot}Coefficients`;
    const helper = customGradientHelper({
      region,
      name,
      summary: `\`H_${slot}\` (${m.mode} ${m.constraint}(${args})) from its inputs`,
      data,
      locate,
      unspannedLabel,
    });
    if (helper) calls.set(root, { inputs: region.inputs, call: helper.call, comment: `H_${slot} = ${m.constraint}(...) of the ${slot} logits: one tape node (${name})` });
  }
  return calls;
}

/**
 * The TypeScript source of one connection's module (unformatted; `prettier` formats it).
 * Exports: `connection`, `n`, the parameter specs and shapes, `initParameters(C, seed)`,
 * `sublayer(params, x, f)`, `pre(params, x)` and `post(params, x, f, state)`.
 */
export function connectionModuleSource(ctx: ModuleContext): string {
  const { info, graph } = ctx;
  const data = new ModuleData();
  const locate = spanLocator(ctx.sources, ctx.entry);
  const unspannedLabel = `sublayer (design.md §1): norm, projections, mixing`;

  const y = output(graph, "y");
  const coefficients = COEFFICIENTS.map((name) => [name, output(graph, name)] as const);
  const x = graph.findInput("x");
  const f = graph.findInput("f");
  const paramNodes = info.parameters.map((p) => [p.name, graph.findInput(p.name)] as const);

  const inputs = new Map<Node, string>();
  if (x) inputs.set(x, "x");
  for (const [name, node] of paramNodes) if (node) inputs.set(node, name);

  // Each map's coefficients as one tape node, with the backward from the IR's autodiff.
  const fused = ctx.customGradients === false ? undefined : coefficientCalls(info, graph, data, locate, unspannedLabel);

  // `pre`: everything the coefficients need. `post`: what `y` needs beyond them, given
  // the state (`H_post`, `H_res`, ...) instead of recomputing it.
  const preBody = emitNodes({ roots: coefficients.map(([, n]) => n), given: inputs, data, locate, unspannedLabel, ...(fused ? { fused } : {}) });
  const state = new Map<Node, string>(inputs);
  for (const [name, node] of coefficients) if (!state.has(node)) state.set(node, `state.${name}`);
  const fName = "fu";
  const withF = (given: Map<Node, string>, name: string): Map<Node, string> => (f ? new Map(given).set(f, name) : given);
  const postBody = emitNodes({ roots: [y], given: withF(state, "f"), data, locate, unspannedLabel, ...(fused ? { fused } : {}) });
  // Values of `pre` that `post` computes again; views of the state (reshape, slice, ...) cost nothing.
  const recomputed = postBody.computed.filter((n) => reachable(coefficients.map(([, c]) => c)).has(n) && !hasTrait(n.op, "movement"));
  const stateUsed = coefficients.filter(([, node]) => postBody.names.get(node)?.startsWith("state.") && reachable([y]).has(node)).map(([name]) => name);
  // `sublayer`: pre, then F(u), then post with the coefficients already named.
  const afterPre = withF(new Map(preBody.names), fName);
  const sublayerPost = emitNodes({ roots: [y], given: afterPre, data, locate, unspannedLabel, ...(fused ? { fused } : {}) });

  const usedParams = (bodies: readonly { referenced: readonly Node[] }[]) => {
    const used = new Set(bodies.flatMap((b) => b.referenced));
    return paramNodes.filter(([, node]) => node && used.has(node)).map(([name]) => name);
  };
  const destructure = (names: readonly string[]) => (names.length > 0 ? [`const { ${names.join(", ")} } = params;`] : []);
  // T and C come from x [T, n, C]; bound only where a line uses them.
  const bind = (body: readonly string[]) =>
    [
      ["T", "const T = x.shape[0];"],
      ["C", "const C = x.shape[2];"],
    ]
      .filter(([sym]) => body.some((l) => !l.startsWith("//") && new RegExp(`\\b${sym}\\b`).test(l)))
      .map(([, line]) => line as string);
  const withBindings = (body: readonly string[]) => [...bind(body), ...body];
  const name = (body: { names: ReadonlyMap<Node, string> }, node: Node) => {
    const n = body.names.get(node);
    if (n === undefined) throw new IrError(`tfjs codegen: %${node.id} has no name`);
    return n;
  };
  const coefficientObject = (body: { names: ReadonlyMap<Node, string> }) =>
    coefficients.map(([key, node]) => `${key}: ${name(body, node)} as ${TENSOR_TYPES[key]}`).join(", ");

  const { n } = info;
  const hasPhi = info.parameters.some((p) => p.name.startsWith("phi_"));
  const paramNames = info.parameters.map((p) => p.name);
  const mapLines = (["pre", "post", "res"] as const).map((slot) => {
    const m = info.maps[slot];
    const args = m.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ");
    return ` *   ${slot.padEnd(4)} ${m.mode} ${m.constraint}(${args})${m.initSource ? ` init ${m.initSource.replace(/\s+/g, " ")}` : ""}`;
  });
  const connArgs = info.args.map(([k, v]) => `${k} = ${String(v)}`).join(", ");

  const lines: string[] = [];
  lines.push(
    `/**`,
    ` * Connection \`${info.name}\`${connArgs ? ` (${connArgs})` : ""} of ${ctx.declaredIn}, compiled from ${ctx.entry} for TensorFlow.js.`,
    ` * Generated by mhc-lang ${ctx.compilerVersion} (\`mhc compile --target tfjs\`); do not edit.`,
    ` *`,
    ` *   streams ${n}, norm ${info.norm.kind}(eps = ${jsNumber(info.norm.eps)}), projection ${info.projection}, alpha ${jsNumber(info.alpha)}`,
    ...mapLines,
    ` *`,
    ` * One sublayer of design.md §1 in float32: x [T, n, C], f = F(u) [T, C],`,
    ` * y[t, j] = sum_i H_res[t, j, i] x[t, i] + H_post[t, j] f[t]  (H_res indexed [out, in]).`,
    ` * Every function is synchronous and runs inside tf.tidy: only its results survive.`,
    ` * The module imports tfjs-core only; the caller picks the backend.`,
    ` */`,
    `import * as tf from "@tensorflow/tfjs-core";`,
    ``,
    `export const connection = ${quote(info.name)};`,
    `/** The number of streams. */`,
    `export const n = ${n};`,
    `/** Initial value of the three alpha gates (pre, post, res). */`,
    `export const ALPHA_INIT = ${jsNumber(info.alpha)};`,
    `/** Standard deviation of the normal initialisation of phi. */`,
    `export const PHI_INIT_STD = ${jsNumber(PHI_INIT_STD)};`,
    ``,
    `/** The parameters, in the pinned order, with shapes over the hidden size C. */`,
    `export const parameterSpecs = [${info.parameters.map((p) => `{ name: ${quote(p.name)}, shape: [${p.shape.map((d) => (typeof d === "number" ? String(d) : quote(d))).join(", ")}] }`).join(", ")}] as const;`,
    `export type ParameterName = (typeof parameterSpecs)[number]["name"];`,
    `export type Parameters = { ${info.parameters.map((p) => `readonly ${p.name}: ${p.shape.length === 2 ? "tf.Tensor2D" : "tf.Tensor1D"}`).join("; ")} };`,
    `export type Coefficients = { ${COEFFICIENTS.map((c) => `${c}: ${TENSOR_TYPES[c]}`).join("; ")} };`,
    `export type SublayerResult = { y: tf.Tensor3D; ${COEFFICIENTS.map((c) => `${c}: ${TENSOR_TYPES[c]}`).join("; ")} };`,
    ``,
    `export type ParameterShapes = { ${info.parameters.map((p) => `${p.name}: [${p.shape.map(() => "number").join(", ")}]`).join("; ")} };`,
    ``,
    `/** The concrete shape of every parameter for hidden size C. */`,
    `export function parameterShapes(${hasPhi ? "C" : "_C"}: number): ParameterShapes {`,
    `  return { ${info.parameters.map((p) => `${p.name}: ${shapeLiteral(p.shape)}`).join(", ")} };`,
    `}`,
    ``,
  );

  lines.push(
    `/** Initial bias logits ([k], row-major), from each map's \`init\` with layer = 0 (default: zeros). */`,
    `const BIAS_INIT = { ${(["pre", "post", "res"] as const).map((s) => `bias_${s}: [${info.maps[s].bias.map(jsNumber).join(", ")}]`).join(", ")} };`,
    ``,
    `/**`,
    ` * Fresh parameters for hidden size C: phi ~ N(0, PHI_INIT_STD^2) (seeded, the same on`,
    ` * every backend), alpha = ALPHA_INIT, biases from the maps' \`init\`. Wrap them in`,
    ` * tf.variable to train them.`,
    ` */`,
    ...(hasPhi
      ? [
          `export function initParameters(C: number, seed = 0): Parameters {`,
          `  const shapes = parameterShapes(C);`,
          `  // Seeds start at 1: tfjs takes a seed of 0 as "no seed" and would draw a random one.`,
          `  const normal = (shape: [number, number], slot: number): tf.Tensor2D => tf.randomNormal(shape, 0, PHI_INIT_STD, "float32", 3 * seed + slot + 1);`,
        ]
      : [`export function initParameters(_C: number, _seed = 0): Parameters {`]),
    `  return {`,
    ...info.parameters.map((p) => {
      if (p.name.startsWith("phi_")) {
        const slot = p.name.slice(4) as "pre" | "post" | "res";
        return `    ${p.name}: normal(shapes.${p.name}, ${ALPHA_INDEX[slot]}),`;
      }
      if (p.name === "alpha") return `    alpha: tf.tensor1d([ALPHA_INIT, ALPHA_INIT, ALPHA_INIT], "float32"),`;
      return `    ${p.name}: tf.tensor1d(BIAS_INIT.${p.name}, "float32"),`;
    }),
    `  };`,
    `}`,
    ``,
  );

  lines.push(
    `function checkShape(what: string, t: tf.Tensor | undefined, expected: readonly number[]): void {`,
    `  if (t === undefined) throw new Error(\`${info.name}: \${what} is missing\`);`,
    `  const ok = t.dtype === "float32" && t.rank === expected.length && t.shape.every((d, i) => d === expected[i]);`,
    `  if (!ok) throw new Error(\`${info.name}: \${what} is \${t.dtype} [\${t.shape.join(", ")}], expected float32 [\${expected.join(", ")}]\`);`,
    `}`,
    ``,
    `/** Checks x [T, n, C] and every parameter against C = x.shape[2]. */`,
    `function checkInputs(params: Parameters, x: tf.Tensor): void {`,
    `  if (x.rank !== 3 || x.shape[1] !== n || x.dtype !== "float32") {`,
    `    throw new Error(\`${info.name}: x is \${x.dtype} [\${x.shape.join(", ")}], expected float32 [T, \${n}, C]\`);`,
    `  }`,
    `  const shapes = parameterShapes(x.shape[2] as number);`,
    `  for (const { name } of parameterSpecs) checkShape(\`params.\${name}\`, params[name], shapes[name]);`,
    `}`,
    ``,
  );

  const indent = (body: readonly string[]) => body.map((l) => `    ${l}`);
  const uName = name(preBody, output(graph, "u"));
  // With a clean split (post recomputes nothing of pre), `sublayer` is pre, F, post;
  // otherwise it is written out in full so nothing is computed twice.
  const sublayerBody =
    recomputed.length === 0
      ? [
          `  return tf.tidy(() => {`,
          `    const state = pre(params, x);`,
          `    const ${fName} = typeof f === "function" ? f(state.u) : f;`,
          `    return { y: post(params, x, ${fName}, state), ...state };`,
          `  });`,
        ]
      : [
          `  checkInputs(params, x);`,
          `  return tf.tidy(() => {`,
          ...indent(
            withBindings([
              ...destructure(usedParams([preBody, sublayerPost])),
              ...preBody.lines,
              `// F(u)`,
              `const ${fName} = typeof f === "function" ? f(${uName} as tf.Tensor2D) : f;`,
              `checkShape("f", ${fName}, [T, C]);`,
              ...sublayerPost.lines,
            ]),
          ),
          `    return { y: ${name(sublayerPost, y)} as tf.Tensor3D, ${coefficientObject(preBody)} };`,
          `  });`,
        ];
  lines.push(
    `/**`,
    ` * One sublayer: the coefficients from x, u = H_pre x, f = F(u), y = H_res x + H_post f.`,
    ` * \`f\` is F itself (called once, inside the tidy scope) or its value when already known.`,
    ` */`,
    `export function sublayer(params: Parameters, x: tf.Tensor3D, f: tf.Tensor2D | ((u: tf.Tensor2D) => tf.Tensor2D)): SublayerResult {`,
    ...sublayerBody,
    `}`,
    ``,
    `/** The first half of \`sublayer\`: the coefficients and u = H_pre x (the input of F). */`,
    `export function pre(params: Parameters, x: tf.Tensor3D): Coefficients {`,
    `  checkInputs(params, x);`,
    `  return tf.tidy(() => {`,
    ...indent(withBindings([...destructure(usedParams([preBody])), ...preBody.lines])),
    `    return { ${coefficientObject(preBody)} };`,
    `  });`,
    `}`,
    ``,
    `/**`,
    ` * The second half of \`sublayer\`: y = H_res x + H_post f from the state \`pre\` returned`,
    ` * (it reads ${stateUsed.map((s) => `\`${s}\``).join(", ") || "nothing"} of it${recomputed.length > 0 ? `, and recomputes ${recomputed.length} values of \`pre\`` : ""}).`,
    ` */`,
    `export function post(params: Parameters, x: tf.Tensor3D, f: tf.Tensor2D, state: Coefficients): tf.Tensor3D {`,
    `  checkInputs(params, x);`,
    `  return tf.tidy(() => {`,
    ...indent(withBindings([`checkShape("f", f, [T, C]);`, ...destructure(usedParams([postBody])), ...postBody.lines])),
    `    return ${name(postBody, y)} as tf.Tensor3D;`,
    `  });`,
    `}`,
  );

  const helpers = data.helperDeclarations();
  if (helpers.length > 0) lines.push(``, ...helpers);
  const hoisted = data.declarations();
  if (hoisted.length > 0) lines.push(``, `// Constant tensors' values (created as tensors on each call, on the caller's backend).`, ...hoisted);
  return lines.join("\n") + "\n";
}
