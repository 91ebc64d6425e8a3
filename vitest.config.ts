import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: ["**/node_modules/**", "**/dist/**", ".data/**", "load-tests/k6/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start processes and talk to shared local servers; two at a time suits a 2-core box.
    maxWorkers: 2,
    // Files and the tests in each in a random order every run, so a test that leans on another's leftovers fails.
    // The run prints its seed; `npx vitest run --sequence.seed=<seed>` replays that order.
    sequence: { shuffle: true },
    reporters: ["default", "./test-support/summary-reporter.ts"],
  },
});
