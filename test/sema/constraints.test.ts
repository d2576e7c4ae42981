import { describe, expect, it } from "vitest";
import { checkSource, codes } from "../helpers/check-source.js";

const constraint = (body: string, signature = "L: [n, n]", result = "[n, n]") => `constraint c(${signature}) -> ${result} {\n${body}\n}\n`;

describe("constraint bodies are checked for every n", () => {
  it("accepts keepdims reductions broadcast against matrices", () => {
    expect(codes(checkSource(constraint("  let M = exp(L)\n  M = M / rowsum(M)\n  M = M / colsum(M)\n  return M")))).toEqual([]);
  });

  it("rejects a shape that fits only one n", () => {
    expect(codes(checkSource(constraint("  let M = L / ones([n, 2])\n  return M")))).toEqual(["MHC3002@2:11"]);
  });

  it("checks matrix products and transposes", () => {
    expect(codes(checkSource(constraint("  return L @ L.T @ L")))).toEqual([]);
    expect(codes(checkSource(constraint("  return L @ ones([n])", "L: [n, n]", "[n]")))).toEqual([]);
    expect(codes(checkSource(constraint("  return L @ ones([2, n])")))).toEqual(["MHC3003@2:12"]);
    expect(codes(checkSource(constraint("  return sum(L).T")))).toEqual(["MHC3013@2:10"]);
  });

  it("checks the declared result", () => {
    expect(codes(checkSource(constraint("  return rowsum(L)")))).toEqual(["MHC3005@2:10"]);
    expect(codes(checkSource(constraint("  return L", "L: tensor", "tensor")))).toEqual([]);
    expect(codes(checkSource(constraint("  return rowsum(L)", "L: tensor", "tensor")))).toEqual(["MHC3006@2:17"]);
    expect(codes(checkSource(constraint("  return sum(L) * ones([n])", "L: tensor", "tensor")))).toEqual(["MHC3016@2:10"]);
  });

  it("keeps the shape of a reassigned variable", () => {
    expect(codes(checkSource(constraint("  let M = L\n  M = rowsum(L)\n  return M")))).toEqual(["MHC3004@3:7"]);
  });

  it("requires compile-time, non-negative repeat counts", () => {
    expect(codes(checkSource(constraint("  repeat sum(L) {\n  }\n  return L")))).toEqual(["MHC3007@2:10"]);
    expect(codes(checkSource(constraint("  repeat 2 - 3 {\n  }\n  return L")))).toEqual(["MHC3007@2:10"]);
    expect(codes(checkSource(constraint("  repeat n * 2 {\n  }\n  return L")))).toEqual([]);
  });

  it("checks a use with its arguments: a negative count appears only for iters = 0", () => {
    const text = `${constraint("  let M = L\n  repeat iters - 1 {\n    M = M / rowsum(M)\n  }\n  return M", "L: [n, n], iters: int = 3")}
connection k { streams 4 pre sigmoid_eps() post scaled_sigmoid() res c(iters = 0) }`;
    expect(codes(checkSource(text))).toEqual(["MHC3007@3:10"]);
  });

  it("checks repeat counts with the declared defaults, without a use", () => {
    expect(codes(checkSource(constraint("  let M = L\n  repeat iters {\n    M = M * 2\n  }\n  return M", "L: [n, n], iters: int = -1")))).toEqual(["MHC3007@3:10"]);
    expect(codes(checkSource(constraint("  let M = L\n  repeat iters {\n    M = M * 2\n  }\n  return M", "L: [n, n], iters: int = 3")))).toEqual([]);
  });

  it("reports returns that are missing, early or inside a loop", () => {
    expect(codes(checkSource(constraint("  let M = L")))).toEqual(["MHC3008@1:12"]);
    expect(codes(checkSource(constraint("  return L\n  let M = L")))).toEqual(["MHC3009@2:3"]);
    expect(codes(checkSource(constraint("  repeat 2 {\n    return L\n  }\n  return L")))).toEqual(["MHC3018@3:5"]);
  });

  it("reports names: unknown, duplicated, assigned without let, parameters", () => {
    expect(codes(checkSource(constraint("  return L + epss", "L: [n, n], eps: float = 1e-6")))).toEqual(["MHC2001@2:14"]);
    expect(codes(checkSource(constraint("  let M = L\n  let M = L\n  return M")))).toEqual(["MHC2005@3:7"]);
    expect(codes(checkSource(constraint("  X = L\n  return L")))).toEqual(["MHC2006@2:3"]);
    expect(codes(checkSource(constraint("  L = L * 2\n  return L")))).toEqual(["MHC2007@2:3"]);
    expect(codes(checkSource(constraint("  return softmax_colz(L)")))).toEqual(["MHC2002@2:10"]);
  });

  it("checks calls to other constraints like builtins", () => {
    expect(codes(checkSource(constraint("  return sinkhorn(L, iters = 3) @ sinkhorn_log(L)")))).toEqual([]);
    expect(codes(checkSource(constraint("  return sinkhorn(L, iter = 3)")))).toEqual(["MHC2023@2:22"]);
    expect(codes(checkSource(constraint("  return sinkhorn(rowsum(L))")))).toEqual(["MHC3002@2:19"]);
    expect(codes(checkSource(constraint("  return sinkhorn(L, iters = 1.5)")))).toEqual(["MHC3001@2:30"]);
  });

  it("rejects recursion", () => {
    expect(codes(checkSource(constraint("  return c(L)")))).toEqual(["MHC3023@2:10"]);
  });

  it("checks parameter lists", () => {
    expect(codes(checkSource("constraint c() -> [n] { return ones([n]) }"))).toContain("MHC3019@1:12");
    expect(codes(checkSource(constraint("  return L", "L: [n, n], k: integer = 3")))).toEqual(["MHC3020@1:28"]);
    expect(codes(checkSource(constraint("  return L", "k: int, L: [n, n]")))).toContain("MHC3015@1:17");
    expect(codes(checkSource(constraint("  return L", "L: [n, n], L: int")))).toEqual(["MHC2004@1:25"]);
    expect(codes(checkSource(constraint("  return L", "L: [n, n], n: int")))).toEqual(["MHC2005@1:25"]);
  });

  it("does not let a declaration hide a builtin, and warns when it hides the prelude", () => {
    expect(codes(checkSource("constraint exp(L: tensor) -> tensor { return L }"))).toEqual(["MHC2031@1:12"]);
    expect(codes(checkSource("constraint sinkhorn(L: [n, n]) -> [n, n] { return L }"))).toEqual(["MHC2020@1:12"]);
  });

  it("shapes logits by fact(n) and lists", () => {
    expect(codes(checkSource("constraint b(w: [fact(n)]) -> [n, n] { return combine(softmax(w), perms(n)) }"))).toEqual([]);
    expect(codes(checkSource("constraint b(w: [n]) -> [n, n] { return combine(softmax(w), perms(n)) }"))).toEqual(["MHC3002@1:41"]);
  });
});
