import { ACTIVITY_BUCKET_MS, activityKey, queuedEventsKey, silentLogger } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { createFinishedCounts } from "../src/finished-counts.ts";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe("the finished jobs' counts", () => {
  it("take every finished job's events off the queued count and add the completed ones to the scored activity", async () => {
    const prefix = uniqueName("finished");
    const test = await createTestRedis(prefix);
    cleanup = test.cleanup;
    const { redis } = test;
    await redis.set(queuedEventsKey(prefix), 20);
    const counts = createFinishedCounts(redis, prefix, silentLogger, 60_000);
    counts.add(4, true);
    counts.add(3, false);
    counts.add(0, true);
    counts.add(5, true);
    // Gathered, not yet written: the window is a minute long here.
    expect(await redis.get(queuedEventsKey(prefix))).toBe("20");
    await counts.flush();
    expect(await redis.get(queuedEventsKey(prefix))).toBe("8");
    const bucket = Math.floor(Date.now() / ACTIVITY_BUCKET_MS);
    const scored = await redis.mget(activityKey(prefix, "scored", bucket), activityKey(prefix, "scored", bucket - 1));
    expect(scored.reduce((sum, value) => sum + Number(value ?? 0), 0)).toBe(9);
    // Nothing gathered: nothing written.
    await counts.flush();
    expect(await redis.get(queuedEventsKey(prefix))).toBe("8");
  });
});
