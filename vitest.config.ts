import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One API server, registry and git server for the whole run; each test isolates itself by namespace,
    // repository directory and registry repository, so files run in parallel against them.
    globalSetup: ["test/support/global-setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Real components fail for real reasons; a retry would hide them.
    retry: 0,
  },
});
