import { describe, expect, it } from "vitest";
import { DeviceArena, withArena } from "../../runtime/native/arena.js";
import type { CudaRuntime } from "../../runtime/native/cudart.js";

/** Records allocations and frees; `failFree` makes freeing that pointer fail. */
function recordingRuntime(failFree?: bigint) {
  let next = 0x1000n;
  const live = new Set<bigint>();
  const log: string[] = [];
  const runtime = {
    malloc(bytes: number) {
      const ptr = next;
      next += BigInt(Math.max(bytes, 1) + 256);
      live.add(ptr);
      log.push(`malloc ${bytes}`);
      return ptr;
    },
    free(ptr: bigint) {
      live.delete(ptr);
      log.push(`free ${ptr.toString(16)}`);
      if (ptr === failFree) throw new Error("free failed");
    },
    upload() {
      log.push("upload");
    },
  };
  return { runtime: runtime as unknown as CudaRuntime, live, log };
}

describe("the device arena", () => {
  it("frees everything, newest first, when the work returns", () => {
    const { runtime, live, log } = recordingRuntime();
    const total = withArena(runtime, (arena) => {
      arena.alloc(100, "a");
      arena.upload(new Float32Array(4), "b");
      return arena.allocatedBytes;
    });
    expect(total).toBe(116);
    expect(live.size).toBe(0);
    expect(log).toEqual(["malloc 100", "malloc 16", "upload", "free 1164", "free 1000"]);
  });

  it("frees everything when the work throws, and rethrows the work's error", () => {
    const { runtime, live } = recordingRuntime();
    expect(() =>
      withArena(runtime, (arena) => {
        arena.alloc(8, "x");
        arena.alloc(8, "y");
        throw new Error("entry point failed");
      }),
    ).toThrow("entry point failed");
    expect(live.size).toBe(0);
  });

  it("keeps freeing after a failed free and reports it after a clean run", () => {
    const { runtime, live } = recordingRuntime(0x1000n);
    expect(() =>
      withArena(runtime, (arena) => {
        arena.alloc(8, "first");
        arena.alloc(8, "second");
      }),
    ).toThrow("free failed");
    expect(live.size).toBe(0);
  });

  it("prefers the work's error to a failed free (after a device fault every call fails)", () => {
    const { runtime } = recordingRuntime(0x1000n);
    expect(() =>
      withArena(runtime, (arena) => {
        arena.alloc(8, "first");
        throw new Error("kernel fault");
      }),
    ).toThrow("kernel fault");
  });

  it("refuses to allocate after dispose, and disposes once", () => {
    const { runtime, log } = recordingRuntime();
    const arena = new DeviceArena(runtime);
    arena.alloc(1, "a");
    expect(arena.dispose()).toBeUndefined();
    expect(arena.dispose()).toBeUndefined();
    expect(log.filter((l) => l.startsWith("free"))).toHaveLength(1);
    expect(() => arena.alloc(1, "late")).toThrow(/after dispose/);
  });
});
