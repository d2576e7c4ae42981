import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { BackendUnavailableError, hasGradients, selectBackend } from "../../../runtime/tfjs/backend.js";

/*
 * Backend selection (design.md §4.1). tfjs-node(-gpu) are optional peers that are not
 * installed here, so these tests cover the fallback path: `tensorflow` is skipped as
 * not installed, wasm starts (finding its .wasm binaries by itself in Node), cpu is the
 * last resort; an explicit request fails with an install hint.
 */

const importPackage = (specifier: string): Promise<unknown> => import(specifier);

describe("selectBackend", () => {
  it("skips the missing tfjs-node packages and picks wasm, with gradients registered", async () => {
    const choice = await selectBackend();
    expect(choice.name).toBe("wasm");
    expect(choice.package).toBe("@tensorflow/tfjs-backend-wasm");
    expect(choice.requested).toBe(false);
    expect(choice.skipped).toEqual([
      { package: "@tensorflow/tfjs-node-gpu", error: "not installed" },
      { package: "@tensorflow/tfjs-node", error: "not installed" },
    ]);
    expect(tf.getBackend()).toBe("wasm");
    expect(choice.gradients).toBe(true);
    expect(hasGradients()).toBe(true);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.softmax(tf.mul(x, x))))(tf.tensor1d([1, 2, 3]));
    expect(g.shape).toEqual([3]);
  });

  it("falls back to cpu when wasm cannot be loaded", async () => {
    const importModule = (specifier: string) => (specifier.includes("wasm") ? Promise.reject(new Error("simulated failure")) : importPackage(specifier));
    const choice = await selectBackend({ importModule });
    expect(choice.name).toBe("cpu");
    expect(choice.skipped.at(-1)).toEqual({ package: "@tensorflow/tfjs-backend-wasm", error: "cannot be loaded: simulated failure" });
    expect(tf.getBackend()).toBe("cpu");
  });

  it("honours an explicit --backend", async () => {
    expect((await selectBackend({ backend: "cpu" })).name).toBe("cpu");
    const wasm = await selectBackend({ backend: "wasm" });
    expect(wasm).toMatchObject({ name: "wasm", requested: true, skipped: [] });
    expect(tf.getBackend()).toBe("wasm");
  });

  it("explains what to install when `tensorflow` is requested but missing", async () => {
    await expect(selectBackend({ backend: "tensorflow" })).rejects.toThrow(BackendUnavailableError);
    await expect(selectBackend({ backend: "tensorflow" })).rejects.toThrow(/`tensorflow` backend is not available .*not installed.*install `@tensorflow\/tfjs-node`/);
    await expect(selectBackend({ backend: "webgpu" as never })).rejects.toThrow(/unknown backend `webgpu`/);
  });
});
