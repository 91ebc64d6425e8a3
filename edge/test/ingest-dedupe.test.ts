import { dedupeSlot, readDedupeMark, silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestRedis, eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import { CLAIMED, type Claimer, createClaimer, PENDING, SEEN } from "../src/ingest/dedupe.ts";
import { createDedupeSweeper } from "../src/ingest/dedupe-sweeper.ts";

describe("claiming event ids in Redis", () => {
  const prefix = uniqueName();
  // Few buckets, so that ids share them as they do at volume.
  const slot = (id: string) => dedupeSlot(prefix, id, 4);
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

  it("claims a new id once, pending until its event is queued, then seen for the window", async () => {
    expect(await claimer.claim([slot("a")])).toEqual([CLAIMED]);
    expect(await claimer.claim([slot("a")])).toEqual([PENDING]);
    const pending = await readDedupeMark(test.redis, slot("a"));
    expect(pending.state).toBe("pending");
    expect(pending.expiresIn).toBeLessThanOrEqual(10);
    await claimer.confirm([slot("a")]);
    expect(await claimer.claim([slot("a")])).toEqual([SEEN]);
    const seen = await readDedupeMark(test.redis, slot("a"));
    expect(seen.state).toBe("seen");
    expect(seen.expiresIn).toBeGreaterThan(10);
    expect(seen.expiresIn).toBeLessThanOrEqual(60);
  });

  it("frees an id whose claim is never confirmed once the pending mark expires", async () => {
    const short = createClaimer({ redis, ttlSeconds: 60, pendingTtlSeconds: 1 });
    expect(await short.claim([slot("orphan")])).toEqual([CLAIMED]);
    // Claimable again once the mark expires (until then each claim is answered pending and changes nothing).
    await eventually(async () => (await short.claim([slot("orphan")]))[0] === CLAIMED, 5_000);
  });

  it("keeps even a pending mark within a window shorter than the mark (every mark expires within the window)", async () => {
    const brief = createClaimer({ redis, ttlSeconds: 3 });
    expect(await brief.claim([slot("brief")])).toEqual([CLAIMED]);
    const mark = await readDedupeMark(test.redis, slot("brief"));
    expect(mark.expiresIn).toBeGreaterThan(0);
    expect(mark.expiresIn).toBeLessThanOrEqual(3);
  });

  it("forgets a seen id once the window has passed", async () => {
    const brief = createClaimer({ redis, ttlSeconds: 1 });
    expect(await brief.claim([slot("passing")])).toEqual([CLAIMED]);
    await brief.confirm([slot("passing")]);
    expect(await brief.claim([slot("passing")])).toEqual([SEEN]);
    await eventually(async () => (await brief.claim([slot("passing")]))[0] === CLAIMED, 5_000);
  });

  it("gives an id claimed twice in one call to the first only", async () => {
    expect(await claimer.claim([slot("b"), slot("c"), slot("b")])).toEqual([CLAIMED, CLAIMED, PENDING]);
  });

  it("gives an id claimed by many concurrent requests to exactly one", async () => {
    const claims = await Promise.all(Array.from({ length: 8 }, () => claimer.claim([slot("race"), slot("mine")])));
    expect(claims.filter(([race]) => race === CLAIMED)).toHaveLength(1);
    expect(claims.filter(([, mine]) => mine === CLAIMED)).toHaveLength(1);
  });

  it("claims an id again once it is released, and leaves the ids sharing its bucket as they were", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `shared-${i}`);
    expect(await claimer.claim(ids.map(slot))).toEqual(ids.map(() => CLAIMED));
    await claimer.confirm(ids.map(slot));
    expect(await claimer.claim([slot("d")])).toEqual([CLAIMED]);
    await claimer.release([slot("d")]);
    expect(await claimer.claim([slot("d")])).toEqual([CLAIMED]);
    expect(await claimer.claim(ids.map(slot))).toEqual(ids.map(() => SEEN));
  });
});

describe("sweeping the window's expired marks", () => {
  it("removes every expired mark, and a bucket left empty goes away, with two edges sharing the walk", async () => {
    const prefix = uniqueName("sweep");
    const test = await createTestRedis(prefix);
    const buckets = 32;
    const claimer = createClaimer({ redis: test.redis, ttlSeconds: 2, pendingTtlSeconds: 1 });
    const slots = Array.from({ length: 300 }, (_, i) => dedupeSlot(prefix, `swept-${i}`, buckets));
    await claimer.claim(slots);
    await claimer.confirm(slots.slice(0, 200));
    // The last 100 are never confirmed: their pending marks expire after 1 s, the others after the 2 s window.
    const sweepers = [0, 1].map(() =>
      createDedupeSweeper({
        redis: test.redis,
        prefix,
        buckets,
        windowSeconds: 2,
        log: silentLogger,
        minIntervalMs: 10,
      }),
    );
    try {
      for (const sweeper of sweepers) sweeper.start();
      const bucketsLeft = async () => {
        const keys = new Set(slots.map((slot) => slot.key));
        return (await Promise.all([...keys].map((key) => test.redis.exists(key)))).filter(Boolean).length;
      };
      expect(await bucketsLeft()).toBeGreaterThan(0);
      await eventually(async () => (await bucketsLeft()) === 0, 5_000);
    } finally {
      for (const sweeper of sweepers) await sweeper.stop();
      await test.cleanup();
    }
  });
});

describe("the slot of an event id", () => {
  it("is the same for the same id and spreads ids over the buckets", () => {
    expect(dedupeSlot("p", "evt-1", 64)).toEqual(dedupeSlot("p", "evt-1", 64));
    const slots = Array.from({ length: 6400 }, (_, i) => dedupeSlot("p", `evt-${i}`, 64));
    const perBucket = new Map<string, number>();
    for (const { key } of slots) perBucket.set(key, (perBucket.get(key) ?? 0) + 1);
    expect(perBucket.size).toBe(64);
    // 100 expected per bucket; a fair spread stays well within ±40%.
    for (const count of perBucket.values()) expect(Math.abs(count - 100)).toBeLessThan(40);
    expect(new Set(slots.map((s) => `${s.key} ${s.field}`)).size).toBe(6400);
    // A field is the decimal of an integer below 2^53, as Redis stores compactly.
    for (const { field } of slots.slice(0, 50)) {
      expect(field).toMatch(/^(0|[1-9]\d*)$/);
      expect(Number(field)).toBeLessThan(2 ** 53);
    }
  });
});
