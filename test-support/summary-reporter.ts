import { relative } from "node:path";
import type { SerializedError } from "vitest";
import type { Reporter, TestModule, Vitest } from "vitest/node";

/**
 * Ends a run with one plain `tests: N passed, N failed, N skipped` line that any CI log reader understands. A file
 * that failed outside its tests (an import, a `beforeAll`) and errors no test caught are added to the line, so it
 * never reads as green for a red run. A shuffled run also names its seed, to replay a failing order, and a failed
 * fast-check property its seed and path, to replay the failing case (see test-support/property.ts).
 */
export default class SummaryReporter implements Reporter {
  private seed: number | undefined;

  onInit(vitest: Vitest) {
    const { sequence } = vitest.config;
    if (sequence.shuffle) this.seed = sequence.seed;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let brokenFiles = 0;
    const replays: string[] = [];
    for (const module of testModules) {
      let failedHere = 0;
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") passed++;
        else if (result.state === "failed") {
          failedHere++;
          const property = (result.errors ?? [])
            .map((error) => /seed: (-?\d+), path: "([^"]*)"/.exec(error.message ?? ""))
            .find((match) => match !== null);
          if (property) {
            replays.push(
              `property failed: ${test.fullName}\n  replay: PROPERTY_SEED=${property[1]} PROPERTY_PATH=${property[2]} ` +
                `npx vitest run ${relative(process.cwd(), module.moduleId)}`,
            );
          }
        } else skipped++;
      }
      failed += failedHere;
      if (failedHere === 0 && module.state() === "failed") brokenFiles++;
    }
    let line = `tests: ${passed} passed, ${failed} failed, ${skipped} skipped`;
    if (brokenFiles > 0) line += `, ${brokenFiles} file${brokenFiles > 1 ? "s" : ""} failed outside a test`;
    if (unhandledErrors.length > 0) line += `, ${unhandledErrors.length} unhandled error(s)`;
    if (this.seed !== undefined) line += ` (seed ${this.seed}: npx vitest run --sequence.seed=${this.seed})`;
    process.stdout.write(`\n${[...replays, line].join("\n")}\n`);
  }
}
