import { eventsQueueKey, redisScript } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";

const releaseHeldJobs = redisScript<number>(new URL("../src/lua/release-held-jobs-4.lua", import.meta.url));

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

describe("release-held-jobs-4.lua", () => {
  async function queueWithActive(paused: boolean) {
    const prefix = uniqueName("release-script");
    test = await createTestRedis(prefix);
    const { redis } = test;
    const key = (name: string) => eventsQueueKey(prefix, name);
    await redis.rpush(key("active"), "1", "2", "3");
    await redis.rpush(key("wait"), "9");
    await redis.set(key("1:lock"), "mine");
    await redis.set(key("2:lock"), "theirs");
    await redis.set(key("3:lock"), "mine");
    if (paused) await redis.set(key("meta-paused"), "1");
    const keys = ["active", "wait", "meta-paused", "paused"].map(key);
    return { redis, key, run: () => releaseHeldJobs.run(redis, keys, ["mine", key("")]) };
  }

  it("moves the token's jobs to the wait list's taking end, unlocked, and leaves another token's alone", async () => {
    const { redis, key, run } = await queueWithActive(false);
    expect(await run()).toBe(2);
    expect(await redis.lrange(key("active"), 0, -1)).toEqual(["2"]);
    expect(await redis.lrange(key("wait"), 0, -1)).toEqual(["9", "1", "3"]);
    expect(await redis.exists(key("1:lock"), key("3:lock"))).toBe(0);
    expect(await redis.get(key("2:lock"))).toBe("theirs");
    // Nothing of the token's is left: a second run hands back nothing.
    expect(await run()).toBe(0);
  });

  it("moves them to the paused list while the queue is paused", async () => {
    const { redis, key, run } = await queueWithActive(true);
    expect(await run()).toBe(2);
    expect(await redis.lrange(key("paused"), 0, -1)).toEqual(["1", "3"]);
    expect(await redis.lrange(key("wait"), 0, -1)).toEqual(["9"]);
  });
});
