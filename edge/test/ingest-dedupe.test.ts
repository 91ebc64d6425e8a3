import { dedupeKey } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { CLAIMED, type Claimer, createClaimer, PENDING, SEEN } from "../src/ingest/dedupe.ts";

describe("claiming event ids in Redis", () => {
  const prefix = uniqueName();
  const key = (id: string) => dedupeKey(prefix, id);
  let test: Awaited<ReturnType<typeof createTestRedis>>;
  let redis: Redis;
  let claimer: Claimer;
  beforeAll(async () => {
    test = await createTestRedis(prefix);
    redis = new Redis(REDIS_URL, { enableOfflineQueue: false });
    await new Promise((resolve) => redis.once("ready", resolve));
    claimer = createClaimer({ redis, ttlSeconds: 60 });
  });
  afterAll(async () => {
    redis.disconnect();
    await test.cleanup();
  });

  it("claims a new id once, pending until its event is queued, then seen for the window's TTL", async () => {
    expect(await claimer.claim([key("a")])).toEqual([CLAIMED]);
    expect(await claimer.claim([key("a")])).toEqual([PENDING]);
    expect(await test.redis.ttl(key("a"))).toBeLessThanOrEqual(10);
    await claimer.confirm([key("a")]);
    expect(await claimer.claim([key("a")])).toEqual([SEEN]);
    const ttl = await test.redis.ttl(key("a"));
    expect(ttl).toBeGreaterThan(10);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it("frees an id whose claim is never confirmed once the pending mark expires", async () => {
    const short = createClaimer({ redis, ttlSeconds: 60, pendingTtlSeconds: 1 });
    expect(await short.claim([key("orphan")])).toEqual([CLAIMED]);
    // Claimable again once the mark expires (until then each claim is answered pending and changes nothing).
    await eventually(async () => (await short.claim([key("orphan")]))[0] === CLAIMED, 5_000);
  });

  it("keeps even a pending mark within a window shorter than the mark (every key expires within the window)", async () => {
    const brief = createClaimer({ redis, ttlSeconds: 3 });
    expect(await brief.claim([key("brief")])).toEqual([CLAIMED]);
    const ttl = await test.redis.ttl(key("brief"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3);
  });

  it("gives a key claimed twice in one call to the first only", async () => {
    expect(await claimer.claim([key("b"), key("c"), key("b")])).toEqual([CLAIMED, CLAIMED, PENDING]);
  });

  it("gives an id claimed by many concurrent requests to exactly one", async () => {
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimer.claim([key("race"), key("mine")])));
    expect(claims.filter(([race]) => race === CLAIMED)).toHaveLength(1);
    expect(claims.filter(([, mine]) => mine === CLAIMED)).toHaveLength(1);
  });

  it("claims an id again once it is released", async () => {
    expect(await claimer.claim([key("d")])).toEqual([CLAIMED]);
    await claimer.release([key("d")]);
    expect(await claimer.claim([key("d")])).toEqual([CLAIMED]);
  });
});
