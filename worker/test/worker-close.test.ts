// A worker closed as soon as it started (a deploy rolled back, a test's setup): its queue closes before Bull's
// blocking connection was ready, and nothing of that may surface as an unhandled rejection.
import { afterEach, describe, expect, it } from "vitest";
import { createStack, type TestStack } from "../../test-support/worker-stack.ts";

let stack: TestStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe("when a worker closes right after it started", () => {
  it("closes without an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      stack = await createStack();
      const worker = await stack.startWorker();
      await worker.close();
      // Rejections are reported once the microtasks after them ran.
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      process.off("unhandledRejection", record);
    }
    expect(unhandled).toEqual([]);
  });
});
