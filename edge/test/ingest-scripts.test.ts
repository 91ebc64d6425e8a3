import { redisScript } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";

const claimIds = redisScript<number[]>(new URL("../src/ingest/lua/claim-ids.lua", import.meta.url));
const confirmIds = redisScript<number>(new URL("../src/ingest/lua/confirm-ids.lua", import.meta.url));

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

async function fresh() {
  const prefix = uniqueName("dedupe-scripts");
  test = await createTestRedis(prefix);
  return { redis: test.redis, key: (id: string) => `${prefix}:dedupe:${id}` };
}

describe("claim-ids.lua", () => {
  it("answers claimed, pending or seen per key, in order, and sets only the keys it claims", async () => {
    const { redis, key } = await fresh();
    await redis.set(key("queued"), "1");
    await redis.set(key("claimed-elsewhere"), "p");
    const keys = [key("new"), key("queued"), key("claimed-elsewhere"), key("new")];
    expect(await claimIds.run(redis, keys, [30])).toEqual([1, 0, 2, 2]);
    expect(await redis.get(key("new"))).toBe("p");
    const ttl = await redis.ttl(key("new"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
    expect(await redis.get(key("queued"))).toBe("1");
  });

  it("reports a SET Redis refuses as -1 and goes on with the next key", async () => {
    const { redis, key } = await fresh();
    // Redis refuses a SET whose expiry is not a number: the path an out-of-memory refusal takes too.
    expect(await claimIds.run(redis, [key("a"), key("b")], ["not-a-number"])).toEqual([-1, -1]);
    expect(await redis.exists(key("a"), key("b"))).toBe(0);
  });
});

describe("confirm-ids.lua", () => {
  it("marks claimed keys as queued for the window, and leaves a released key released", async () => {
    const { redis, key } = await fresh();
    await claimIds.run(redis, [key("kept")], [30]);
    expect(await confirmIds.run(redis, [key("kept"), key("released")], [86_400])).toBe(2);
    expect(await redis.get(key("kept"))).toBe("1");
    expect(await redis.ttl(key("kept"))).toBeGreaterThan(86_000);
    expect(await redis.exists(key("released"))).toBe(0);
  });
});
