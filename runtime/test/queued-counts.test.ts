import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { ACTIVITY_BUCKET_MS, activityKey } from "../src/activity.ts";
import { silentLogger } from "../src/log.ts";
import { queuedEventsKey } from "../src/queue.ts";
import { createQueuedCounts } from "../src/queued-counts.ts";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function redisFor(label: string) {
  const prefix = uniqueName(label);
  const test = await createTestRedis(prefix);
  cleanup = test.cleanup;
  return { prefix, redis: test.redis };
}

/** The activity counted in the current bucket and the one before (a run may straddle their boundary). */
async function activity(
  redis: Awaited<ReturnType<typeof redisFor>>["redis"],
  prefix: string,
  kind: "scored" | "accepted",
) {
  const bucket = Math.floor(Date.now() / ACTIVITY_BUCKET_MS);
  const values = await redis.mget(activityKey(prefix, kind, bucket), activityKey(prefix, kind, bucket - 1));
  return values.reduce((sum, value) => sum + Number(value ?? 0), 0);
}

describe("the queue's counts", () => {
  it("take finished jobs' events off the queued count and add the completed ones to the scored activity", async () => {
    const { prefix, redis } = await redisFor("finished");
    await redis.set(queuedEventsKey(prefix), 20);
    const counts = createQueuedCounts(redis, prefix, silentLogger, { sign: -1, activity: "scored", windowMs: 60_000 });
    counts.add(4, true);
    counts.add(3, false);
    counts.add(0, true);
    counts.add(5, true);
    // Gathered, not yet written: the window is a minute long here.
    expect(await redis.get(queuedEventsKey(prefix))).toBe("20");
    expect(counts.pending()).toBe(-12);
    await counts.flush();
    expect(await redis.get(queuedEventsKey(prefix))).toBe("8");
    expect(counts.pending()).toBe(0);
    expect(await activity(redis, prefix, "scored")).toBe(9);
    // Nothing gathered: nothing written.
    await counts.flush();
    expect(await redis.get(queuedEventsKey(prefix))).toBe("8");
  });

  it("add queued jobs' events to the count and to the accepted activity once their window ends", async () => {
    const { prefix, redis } = await redisFor("queued");
    const counts = createQueuedCounts(redis, prefix, silentLogger, { sign: 1, activity: "accepted", windowMs: 5 });
    counts.add(2, true);
    counts.add(7, true);
    await expect.poll(async () => redis.get(queuedEventsKey(prefix)), { timeout: 5_000 }).toBe("9");
    expect(await activity(redis, prefix, "accepted")).toBe(9);
  });
});
