import { dedupeKey } from "@leadscore/contracts";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { CLAIMED, type Claimer, createClaimer, SEEN } from "../src/ingest/dedupe.ts";

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

  it("claims a new id once, with the window's TTL, and finds it seen afterwards", async () => {
    expect(await claimer.claim([key("a")])).toEqual([CLAIMED]);
    expect(await claimer.claim([key("a")])).toEqual([SEEN]);
    const ttl = await test.redis.ttl(key("a"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
  });

  it("gives a key claimed twice in one call to the first only", async () => {
    expect(await claimer.claim([key("b"), key("c"), key("b")])).toEqual([CLAIMED, CLAIMED, SEEN]);
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
