import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: ["**/node_modules/**", "**/dist/**", ".data/**", "load-tests/k6/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start processes and talk to shared local servers; two at a time suits a 2-core box.
    maxWorkers: 2,
    reporters: ["default", "./test-support/summary-reporter.ts"],
  },
});
