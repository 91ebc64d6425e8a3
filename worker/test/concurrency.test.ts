import { afterEach, describe, expect, it } from "vitest";
import {
  auditAll,
  createStack,
  entryView,
  historyOf,
  leadOf,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { expectedFold, random, workload } from "./random-events.ts";

let stack: TestStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Sends the arrival order as jobs of random sizes (1-40 events). */
async function sendInRandomJobs(target: TestStack, arrival: Parameters<TestStack["send"]>[0], seed: number) {
  const next = random(seed);
  for (let from = 0; from < arrival.length; ) {
    const size = 1 + Math.floor(next() * 40);
    await target.send(arrival.slice(from, from + size), size);
    from += size;
  }
}

describe("when two workers score a shuffled, duplicated workload at once", () => {
  it("gives exactly the pure fold's history and score for every lead", async () => {
    stack = await createStack({ env: { WORKER_CONCURRENCY: "4" } });
    // Two workers in one process, each with its own clients: they meet only in Redis and MongoDB.
    await stack.startWorker({ maxBatchEvents: 60 });
    await stack.startWorker({ maxBatchEvents: 60 });
    const { events, arrival, leads } = workload(7, 30, 20, "two", 150);
    await sendInRandomJobs(stack, arrival, 11);
    await stack.drained(120_000);

    const expected = expectedFold(events, stack.config.SCORE_CAP);
    let entries = 0;
    for (const lead of leads) {
      const want = expected.get(lead);
      const got = await historyOf(stack, lead);
      entries += got.length;
      expect(got.map(entryView), lead).toEqual(want?.history.map(entryView));
      expect((await leadOf(stack, lead))?.current_score, lead).toBe(want?.score);
    }
    expect(entries).toBe(events.length);
    expect(await auditAll(stack)).toEqual([]);
    // The workload is built to make the workers collide and to deliver events late and twice.
    const totals = stack.workers.map((worker) => worker.metrics.totals());
    expect(totals.reduce((sum, t) => sum + t.late, 0)).toBeGreaterThan(0);
    expect(totals.reduce((sum, t) => sum + t.duplicates, 0)).toBeGreaterThan(0);
    expect(totals.reduce((sum, t) => sum + t.scored, 0)).toBe(events.length);
  }, 180_000);
});
