import { describe, expect, it } from "vitest";
import * as P from "../../compiler/sema/poly.js";
import { checkSource, codes } from "../helpers/check-source.js";

const connection = (fields: string, params = "") => `connection k${params} {\n${fields}\n}\n`;
const standard = "  streams 4\n  pre dynamic sigmoid_eps()\n  post dynamic scaled_sigmoid()\n  res dynamic sinkhorn()";

describe("connections", () => {
  it("resolves the prelude's mhc with its defaults", () => {
    const result = checkSource("model m { vocab 8 dim 8 context 8 layers 1 connection mhc(n = 3) block { identity() } }");
    expect(codes(result)).toEqual([]);
    const model = result.checked.models.get("m")!;
    const conn = model.connection;
    expect(P.constantValue(conn.streams)).toBe(3);
    expect(conn.norm).toEqual({ kind: "rms", eps: 1e-6 });
    expect(conn.alpha).toBe(0.01);
    expect(conn.projection).toBe("flat");
    expect(conn.maps.res.constraint.name).toBe("sinkhorn");
    expect(conn.maps.res.args.get("iters")).toEqual({ kind: "int", value: P.constant(20) });
    expect(P.constantValue(conn.maps.res.k)).toBe(9);
    expect(P.constantValue(conn.maps.pre.k)).toBe(3);
  });

  it("requires a constraint of the slot's shape", () => {
    expect(codes(checkSource(connection("  streams 4\n  pre dynamic sinkhorn()\n  post dynamic scaled_sigmoid()\n  res dynamic sinkhorn()")))).toEqual(["MHC4001@3:15"]);
    expect(codes(checkSource(connection("  streams 4\n  pre dynamic sigmoid_eps()\n  post dynamic scaled_sigmoid()\n  res dynamic fixed_ones()")))).toEqual(["MHC4001@5:15"]);
  });

  it("gives polymorphic constraints the shape of their slot", () => {
    const result = checkSource(connection("  streams 5\n  pre unconstrained()\n  post tanh_gate()\n  res unconstrained()"));
    expect(codes(result)).toEqual([]);
    const k = result.checked.connections.get("k")!;
    expect(P.constantValue(k.maps.res.k)).toBe(25);
    expect(P.constantValue(k.maps.post.k)).toBe(5);
  });

  it("sizes birkhoff_lite's logits by n!", () => {
    const result = checkSource(connection("  streams 4\n  pre sigmoid_eps()\n  post scaled_sigmoid()\n  res birkhoff_lite()"));
    expect(P.constantValue(result.checked.connections.get("k")!.maps.res.k)).toBe(24);
  });

  it("reports a constraint that ignores its logits in --verbose only", () => {
    const fields = "  streams 4\n  pre sigmoid_eps()\n  post scaled_sigmoid()\n  res identity()";
    expect(codes(checkSource(connection(fields)))).toEqual([]);
    expect(codes(checkSource(connection(fields), {}, { verbose: true }))).toEqual(["MHC4011@5:7"]);
    expect(checkSource(connection(fields)).checked.connections.get("k")!.maps.res.usesLogits).toBe(false);
    expect(codes(checkSource(connection(fields.replace("res identity", "res static identity")), {}, { verbose: true }))).toEqual([]);
  });

  it("reports missing, unknown and repeated fields", () => {
    expect(codes(checkSource(connection("  streams 4\n  pre sigmoid_eps()\n  post scaled_sigmoid()")))).toEqual(["MHC4003@1:12"]);
    expect(codes(checkSource(connection(`${standard}\n  strems 3`)))).toEqual(["MHC2028@6:3"]);
    expect(codes(checkSource(connection(`${standard}\n  streams 3`)))).toEqual(["MHC2029@6:3"]);
    expect(codes(checkSource(connection(`${standard}\n  alpha dynamic 0.1`)))).toEqual(["MHC4012@6:9"]);
  });

  it("checks field values", () => {
    expect(codes(checkSource(connection(standard.replace("streams 4", "streams 0"))))).toEqual(["MHC4002@2:11"]);
    expect(codes(checkSource(connection(`${standard}\n  norm layer`)))).toEqual(["MHC4005@6:8"]);
    expect(codes(checkSource(connection(`${standard}\n  norm rms(eps = 0)`)))).toEqual(["MHC4006@6:18"]);
    expect(codes(checkSource(connection(`${standard}\n  projection per_strem`)))).toEqual(["MHC4005@6:14"]);
    expect(codes(checkSource(connection(standard.replace("sinkhorn()", "sinkhorn() init ones([n + 1])"))))).toEqual(["MHC4010@5:31"]);
    expect(codes(checkSource(connection(standard.replace("sinkhorn()", "sinkhorn() init eye(n) * layer"))))).toEqual([]);
  });

  it("needs per-stream projections to split evenly across streams", () => {
    const wide = "constraint wide(L: [n + 1]) -> [n] { return ones([n]) * sum(L) }\n";
    const fields = "  streams 3\n  projection per_stream\n  pre wide()\n  post scaled_sigmoid()\n  res birkhoff_lite()";
    expect(codes(checkSource(wide + connection(fields)))).toEqual(["MHC4007@5:3"]);
  });

  it("does not take a builtin or an unknown name as a map", () => {
    expect(codes(checkSource(connection(standard.replace("sigmoid_eps()", "sigmoid()"))))).toEqual(["MHC2036@3:15"]);
    expect(codes(checkSource(connection(standard.replace("sinkhorn()", "sinkorn()"))))).toEqual(["MHC2002@5:15"]);
  });

  it("checks each use of a parameterised connection with its arguments", () => {
    const text = `${connection("  streams n\n  pre sigmoid_eps()\n  post scaled_sigmoid()\n  res sinkhorn(iters = iters)", "(n: int = 4, iters: int = 20)")}
model m { vocab 8 dim 8 context 8 layers 1 connection k(n = 2, iters = 0) block { identity() } }`;
    const diagnostics = checkSource(text).diagnostics;
    expect(diagnostics.map((d) => d.code)).toEqual(["MHC3007"]);
    // The error surfaces in the prelude's sinkhorn but is the use's fault: the
    // primary span is the use, a secondary label shows where it surfaces.
    expect(diagnostics[0]!.span!.file).toBe("main.mhc");
    expect(diagnostics[0]!.secondary.map((s) => s.span.file)).toEqual(["<std>/std.mhc"]);
  });
});
