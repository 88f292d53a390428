import { defineConfig } from "vitest/config";

// Browser tests against the local lab with the real operator (see e2e/lab.ts).
export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
