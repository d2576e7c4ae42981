import { describe, expect, it } from "vitest";
import { benchShapes, parseDtypes, parseShapes, positiveInteger } from "../../compiler/cli/commands/native/options.js";
import { UsageError } from "../../compiler/cli/io.js";

describe("shape and dtype options of mhc verify / mhc bench", () => {
  it("reads TxC lists with x, X or ×, keeping the first of duplicates", () => {
    expect(parseShapes("1x4096, 7X100,1023×96,1x4096")).toEqual([
      { T: 1, C: 4096 },
      { T: 7, C: 100 },
      { T: 1023, C: 96 },
    ]);
  });

  it.each(["", "4096", "1x", "x96", "0x96", "7x0", "7x100x3", "-1x96", "1.5x96", "7x100,", "99999999x1"])("rejects `%s` as a usage error", (text) => {
    expect(() => parseShapes(text)).toThrow(UsageError);
  });

  it("reads dtypes by their usual names and defaults to the fallback", () => {
    expect(parseDtypes(undefined, ["f32", "bf16"])).toEqual(["f32", "bf16"]);
    expect(parseDtypes("bf16", ["f32"])).toEqual(["bf16"]);
    expect(parseDtypes("fp32,bfloat16,float32", [])).toEqual(["f32", "bf16"]);
    expect(() => parseDtypes("fp16", [])).toThrow(UsageError);
  });

  it("makes bench shapes from --tokens by --hidden, or from --shapes", () => {
    expect(benchShapes({}, { T: 8192, C: 4096 })).toEqual([{ T: 8192, C: 4096 }]);
    expect(benchShapes({ tokens: 16 }, { T: 8192, C: 4096 })).toEqual([{ T: 16, C: 4096 }]);
    expect(benchShapes({ tokens: "8192,16", hidden: "7168" }, { T: 1, C: 1 })).toEqual([
      { T: 8192, C: 7168 },
      { T: 16, C: 7168 },
    ]);
    expect(benchShapes({ shapes: "16x4096" }, { T: 1, C: 1 })).toEqual([{ T: 16, C: 4096 }]);
    expect(() => benchShapes({ shapes: "16x4096", tokens: 3 }, { T: 1, C: 1 })).toThrow(UsageError);
    expect(() => benchShapes({ hidden: "0" }, { T: 1, C: 1 })).toThrow(UsageError);
  });

  it("checks integer flags", () => {
    expect(positiveInteger("iters", undefined, 30)).toBe(30);
    expect(positiveInteger("iters", "12", 30)).toBe(12);
    expect(() => positiveInteger("n", 17, 4, 16)).toThrow(UsageError);
    expect(() => positiveInteger("iters", "2.5", 30)).toThrow(UsageError);
  });
});
