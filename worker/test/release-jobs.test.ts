import { EVENTS_QUEUE } from "@leadscore/runtime";
import Queue from "bull";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { releaseHeldJobs } from "../src/release-jobs.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const tokenOf = (queue: Queue.Queue) => (queue as unknown as { token: string }).token;

describe("when a closing worker still holds jobs Bull fetched for it", () => {
  it("hands back its own to the wait list, unlocked, and leaves another worker's alone", async () => {
    const prefix = uniqueName("release");
    const { redis, cleanup } = await createTestRedis(prefix);
    cleanups.push(cleanup);
    const mine = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix });
    const theirs = new Queue(EVENTS_QUEUE, REDIS_URL, { prefix });
    cleanups.push(
      () => mine.close(),
      () => theirs.close(),
    );
    await mine.addBulk([{ data: { n: 1 } }, { data: { n: 2 } }, { data: { n: 3 } }]);
    // Fetched (active, locked with each queue's token) and never processed: what Bull leaves when it closes.
    const [a, b] = [await mine.getNextJob(), await mine.getNextJob()];
    const c = await theirs.getNextJob();
    expect(await redis.llen(`${prefix}:${EVENTS_QUEUE}:active`)).toBe(3);

    expect(await releaseHeldJobs(redis, prefix, tokenOf(mine))).toBe(2);
    expect(await redis.lrange(`${prefix}:${EVENTS_QUEUE}:active`, 0, -1)).toEqual([String(c?.id)]);
    expect((await redis.lrange(`${prefix}:${EVENTS_QUEUE}:wait`, 0, -1)).sort()).toEqual(
      [String(a?.id), String(b?.id)].sort(),
    );
    expect(await redis.exists(`${prefix}:${EVENTS_QUEUE}:${a?.id}:lock`)).toBe(0);
    expect(await redis.get(`${prefix}:${EVENTS_QUEUE}:${c?.id}:lock`)).toBe(tokenOf(theirs));
    // The next worker takes them at once, without waiting for their locks to expire.
    const again = await theirs.getNextJob();
    expect([String(a?.id), String(b?.id)]).toContain(String(again?.id));
  });
});
