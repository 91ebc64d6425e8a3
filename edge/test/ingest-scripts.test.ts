import { DEDUPE_EPOCH_SECONDS, dedupeSlot, readDedupeMark, redisScript } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";

const script = (name: string) => redisScript<number[]>(new URL(`../src/ingest/lua/${name}.lua`, import.meta.url));
const claimIds = script("claim-ids");
const confirmIds = script("confirm-ids");
const releaseIds = script("release-ids");
const sweepIds = script("sweep-ids");
const sweepCursor = script("sweep-cursor-1");

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

async function fresh(buckets = 1) {
  const prefix = uniqueName("dedupe-scripts");
  test = await createTestRedis(prefix);
  const redis = test.redis;
  const slot = (id: string) => dedupeSlot(prefix, id, buckets);
  return {
    prefix,
    redis,
    slot,
    now: async () => Number((await redis.time())[0]) - DEDUPE_EPOCH_SECONDS,
    keys: (ids: string[]) => ids.map((id) => slot(id).key),
    fields: (ids: string[]) => ids.map((id) => slot(id).field),
    mark: (id: string) => readDedupeMark(redis, slot(id)),
  };
}

describe("claim-ids.lua", () => {
  it("answers claimed, pending or seen per id, in order, and writes only the ids it claims", async () => {
    const { redis, slot, now, keys, fields, mark } = await fresh();
    await redis.hset(slot("queued").key, slot("queued").field, (await now()) + 600);
    await redis.hset(slot("claimed-elsewhere").key, slot("claimed-elsewhere").field, -((await now()) + 30));
    const ids = ["new", "queued", "claimed-elsewhere", "new"];
    expect(await claimIds.run(redis, keys(ids), [30, ...fields(ids)])).toEqual([1, 0, 2, 2]);
    expect((await mark("new")).state).toBe("pending");
    expect((await mark("new")).expiresIn).toBeLessThanOrEqual(30);
    expect((await mark("queued")).state).toBe("seen");
    expect((await mark("claimed-elsewhere")).expiresIn).toBeLessThanOrEqual(30);
  });

  it("claims again an id whose mark has expired, seen or pending, before any sweep removed it", async () => {
    const { redis, slot, now, keys, fields, mark } = await fresh();
    const t = await now();
    await redis.hset(slot("old").key, slot("old").field, t - 5, slot("lapsed").field, -(t - 1));
    const ids = ["old", "lapsed"];
    expect(await claimIds.run(redis, keys(ids), [30, ...fields(ids)])).toEqual([1, 1]);
    expect((await mark("old")).state).toBe("pending");
    expect((await mark("lapsed")).state).toBe("pending");
  });

  it("reports a write Redis refuses as -1 and goes on with the next id", async () => {
    const { redis, slot, keys, fields } = await fresh(64);
    const other = Array.from({ length: 64 }, (_, i) => `b-${i}`).find((id) => slot(id).key !== slot("a").key) as string;
    // A bucket key holding another type makes the write fail: the path an out-of-memory refusal takes too.
    await redis.set(slot("a").key, "not a hash");
    expect(await claimIds.run(redis, keys(["a", other]), [30, ...fields(["a", other])])).toEqual([-1, 1]);
  });
});

describe("confirm-ids.lua", () => {
  it("marks claimed ids as queued for the window", async () => {
    const { redis, keys, fields, mark } = await fresh();
    await claimIds.run(redis, keys(["kept"]), [30, ...fields(["kept"])]);
    expect(await confirmIds.run(redis, keys(["kept"]), [86_400, ...fields(["kept"])])).toBe(1);
    expect((await mark("kept")).state).toBe("seen");
    expect((await mark("kept")).expiresIn).toBeGreaterThan(86_000);
    expect((await mark("kept")).expiresIn).toBeLessThanOrEqual(86_400);
  });
});

describe("release-ids.lua", () => {
  it("removes the given ids' marks only", async () => {
    const { redis, keys, fields, mark } = await fresh();
    const ids = ["gone", "stays"];
    await claimIds.run(redis, keys(ids), [30, ...fields(ids)]);
    expect(await releaseIds.run(redis, keys(["gone"]), fields(["gone"]))).toBe(1);
    expect((await mark("gone")).state).toBe("absent");
    expect((await mark("stays")).state).toBe("pending");
  });
});

describe("sweep-ids.lua", () => {
  it("removes expired marks only, and a bucket left empty goes away", async () => {
    const { redis, slot, now, mark } = await fresh(64);
    const t = await now();
    const bucket = slot("expired").key;
    const sameBucket = Array.from({ length: 640 }, (_, i) => `x-${i}`).filter((id) => slot(id).key === bucket);
    const [live, waiting] = sameBucket;
    await redis.hset(bucket, {
      [slot("expired").field]: t - 5,
      [slot("lapsed").field]: -(t - 1),
      [slot(live as string).field]: t + 600,
      [slot(waiting as string).field]: -(t + 9),
    });
    const emptied = Array.from({ length: 640 }, (_, i) => `y-${i}`).find((id) => slot(id).key !== bucket) as string;
    await redis.hset(slot(emptied).key, slot(emptied).field, t - 1);
    expect(await sweepIds.run(redis, [bucket, slot(emptied).key], [])).toBe(3);
    expect(await redis.hlen(bucket)).toBe(2);
    expect((await mark(live as string)).state).toBe("seen");
    expect((await mark(waiting as string)).state).toBe("pending");
    expect(await redis.exists(slot(emptied).key)).toBe(0);
  });
});

describe("sweep-cursor-1.lua", () => {
  it("hands out consecutive ranges that wrap, over the most buckets any edge has used", async () => {
    const { redis, prefix } = await fresh();
    const key = [`${prefix}:dd:sweep`];
    expect(await sweepCursor.run(redis, key, [10, 4])).toEqual([0, 4, 10]);
    expect(await sweepCursor.run(redis, key, [10, 4])).toEqual([4, 4, 10]);
    expect(await sweepCursor.run(redis, key, [10, 4])).toEqual([8, 4, 10]);
    expect(await sweepCursor.run(redis, key, [10, 4])).toEqual([2, 4, 10]);
    // An edge with fewer buckets still walks the 10 (buckets past its count may hold marks).
    expect(await sweepCursor.run(redis, key, [6, 4])).toEqual([6, 4, 10]);
  });
});
