import { describe, expect, it } from "vitest";
import { createRequestQueue } from "../src/request-queue.ts";

/** A task that records its start and end and runs until released. */
function gated(log: string[], name: string) {
  let release: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    release,
    task: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("when requests for one lead are queued behind each other", () => {
  it("starts each only after the one before it for that lead has ended, while other leads' run beside them", async () => {
    const log: string[] = [];
    const queue = createRequestQueue(4, 16);
    const subscribeA = gated(log, "subscribe a");
    const unsubscribeA = gated(log, "unsubscribe a");
    const subscribeB = gated(log, "subscribe b");
    expect(queue.push(subscribeA.task, "a")).toBe(true);
    expect(queue.push(unsubscribeA.task, "a")).toBe(true);
    expect(queue.push(subscribeB.task, "b")).toBe(true);
    await turn();
    // b's request overtakes a's second one, which waits although slots are free.
    expect(log).toEqual(["start subscribe a", "start subscribe b"]);
    unsubscribeA.release();
    subscribeB.release();
    await turn();
    expect(log).toEqual(["start subscribe a", "start subscribe b", "end subscribe b"]);
    subscribeA.release();
    await turn();
    await turn();
    expect(log).toEqual([
      "start subscribe a",
      "start subscribe b",
      "end subscribe b",
      "end subscribe a",
      "start unsubscribe a",
      "end unsubscribe a",
    ]);
  });

  it("still runs requests without a key at once, up to the limit, and refuses past the waiting capacity", async () => {
    const log: string[] = [];
    const queue = createRequestQueue(2, 1);
    const tasks = ["x", "y", "z", "w"].map((name) => gated(log, name));
    expect(tasks.map(({ task }) => queue.push(task))).toEqual([true, true, true, false]);
    await turn();
    expect(log).toEqual(["start x", "start y"]);
    for (const { release } of tasks) release();
    await turn();
    await turn();
    expect(log).toContain("end z");
  });
});
