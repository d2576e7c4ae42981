import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 30_000,
    pool: "forks",
    // Vitest's default leaves one core idle (cores - 1 workers): on a 2-core machine every file then runs
    // in series, while much of the suite waits on nvcc, g++ and child processes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
