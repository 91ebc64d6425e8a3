// The one lock (runtime/src/lock.ts) as the deep lane, the rebuild and the leaderboard publisher hold it: a holder
// whose lock was taken by another while it worked writes nothing.
import { COLLECTIONS, type HistoryPageDocument, type ScoreUpdate } from "@leadscore/contracts";
import { encodeEvent, leadHashField, liveKeys } from "@leadscore/live";
import { LockLostError, silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, REDIS_URL, uniqueName } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  historyOf,
  queued,
  rebuildOptionsOf,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { createDeepLane } from "../src/deep-lane.ts";
import { createScorePublisher, type LeaderboardEmit, leaderboardKeys } from "../src/publisher.ts";
import { ensureLiveState, rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";

let stack: TestStack | undefined;
const clients: Redis[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await stack?.close();
  stack = undefined;
});

function client(): Redis {
  const redis = new Redis(REDIS_URL);
  clients.push(redis);
  return redis;
}

/** A lead with pages in MongoDB, scored by a worker that is then stopped (so no deep lane of its own runs). */
async function leadWithPages(): Promise<TestStack> {
  const current = await createStack();
  stack = current;
  const worker = await current.startWorker();
  await current.send(Array.from({ length: 180 }, (_, i) => queued("deep", `d${i}`, "page_view", T0 + 1_000 * (i + 1))));
  await current.drained();
  await worker.close();
  return current;
}

const pageCount = (current: TestStack) =>
  current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages).countDocuments({});

/** What a deep lane of `current` runs with, on `redis`, committing into the live state's current generation. */
async function laneOptions(current: TestStack, redis: Redis) {
  const keys = liveKeys(current.config.REDIS_PREFIX);
  const generation = (await redis.get(keys.gen)) as string;
  return {
    db: current.db,
    redis,
    keys,
    generation: () => generation,
    cap: current.config.SCORE_CAP,
    thresholds: current.config.STAGE_THRESHOLDS,
    encodeUpdates: () => new Map(),
    log: silentLogger,
  };
}

describe("when the deep lane's lock is taken by another process during a pass", () => {
  it("writes neither pages nor the lead, and folds the lead once it holds the lock again", async () => {
    const current = await leadWithPages();
    const redis = client();
    const keys = liveKeys(current.config.REDIS_PREFIX);
    // A late event waiting for the deep lane: older than every entry, so every page is written anew.
    const late = { ...queued("deep", "d-late", "purchase", T0 + 500), points: 100, rule_id: "purchase" };
    await redis.rpush(keys.deepEvents("deep"), JSON.stringify(encodeEvent(late)));
    await redis.hset(keys.deep, "deep", "0");
    const version = await redis.hget(keys.lead("deep"), leadHashField("version"));
    const pagesBefore = await pageCount(current);
    expect(pagesBefore).toBeGreaterThan(0);

    let stolen = false;
    const lane = createDeepLane({
      ...(await laneOptions(current, redis)),
      // Read at the start of a pass, after the lock was taken: another process takes it over here, as it would once
      // this one stalled past the lock's time. Sent on the lane's own connection, so it lands before any later call.
      now: () => {
        if (!stolen) {
          stolen = true;
          void redis.set(keys.deepLock, "another-process", "PX", 60_000);
        }
        return Date.now();
      },
    });

    await expect(lane.runOnce()).rejects.toBeInstanceOf(LockLostError);
    expect(stolen).toBe(true);
    expect(await redis.hget(keys.lead("deep"), leadHashField("version"))).toBe(version);
    expect(await pageCount(current)).toBe(pagesBefore);
    expect(await redis.hget(keys.deep, "deep")).toBe("0");
    expect(await redis.llen(keys.deepEvents("deep"))).toBe(1);
    expect(await redis.get(keys.deepLock)).toBe("another-process");
    // While the other holds it, a pass does nothing at all.
    expect(await lane.runOnce()).toBe(0);

    await redis.del(keys.deepLock);
    expect(await lane.runOnce()).toBe(1);
    expect(await redis.hget(keys.lead("deep"), leadHashField("version"))).toBe(String(Number(version) + 1));
    expect(await redis.hexists(keys.deep, "deep")).toBe(0);
    expect(await pageCount(current)).toBeGreaterThan(pagesBefore);
    const history = await historyOf(current, "deep");
    expect(history).toHaveLength(181);
    expect(history[0]).toMatchObject({ event_id: "d-late", score: 100, late: true });
    await lane.stop();
    expect(await redis.exists(keys.deepLock)).toBe(0);
  }, 120_000);

  it("lets only one of two lanes pass at a time", async () => {
    const current = await leadWithPages();
    const redis = client();
    const keys = liveKeys(current.config.REDIS_PREFIX);
    const options = await laneOptions(current, redis);
    const [first, second] = [createDeepLane(options), createDeepLane(options)];
    // The lane is empty: the first's pass looks at no lead, but it keeps the lock between passes.
    expect(await first.runOnce()).toBe(0);
    const holder = await redis.get(keys.deepLock);
    expect(holder).toEqual(expect.any(String));
    // A rescan asked for: the second may not do it while the first holds the lock.
    await redis.hset(keys.deep, "deep", "1");
    const version = await redis.hget(keys.lead("deep"), leadHashField("version"));
    expect(await second.runOnce()).toBe(0);
    expect(await redis.hget(keys.deep, "deep")).toBe("1");
    expect(await redis.hget(keys.lead("deep"), leadHashField("version"))).toBe(version);
    expect(await redis.get(keys.deepLock)).toBe(holder);
    // The first stops and lets go; the second takes over and does the rescan.
    await first.stop();
    expect(await redis.exists(keys.deepLock)).toBe(0);
    expect(await second.runOnce()).toBe(1);
    expect(await redis.hexists(keys.deep, "deep")).toBe(0);
    expect(await redis.hget(keys.lead("deep"), leadHashField("version"))).toBe(String(Number(version) + 1));
    expect(await auditAll(current)).toEqual([]);
    await second.stop();
  }, 120_000);
});

describe("when the rebuild's lock is taken by another process while it reads MongoDB", () => {
  it("writes nothing of the next generation, no page and no generation, keeps the previous one, and another rebuild then builds the state", async () => {
    const current = await leadWithPages();
    const redis = client();
    const keys = liveKeys(current.config.REDIS_PREFIX);
    const pagesBefore = await pageCount(current);
    const options = rebuildOptionsOf(current, redis);
    let stolen = false;
    const rebuild = withRebuildLock(redis, keys, (lock) =>
      rebuildLiveState({
        ...options,
        lock,
        // Read once the events are read, before the first write of the new state.
        now: () => {
          stolen = true;
          void redis.set(keys.rebuildLock, "another-process", "PX", 60_000);
          return Date.now();
        },
      }),
    );
    await expect(rebuild).rejects.toBeInstanceOf(LockLostError);
    expect(stolen).toBe(true);
    expect(await redis.exists(keys.next().lead("deep"))).toBe(0);
    expect(await redis.zcard(keys.next().byScore)).toBe(0);
    // The previous generation still answers reads.
    expect(await redis.exists(keys.lead("deep"))).toBe(1);
    expect(await pageCount(current)).toBe(pagesBefore);
    expect(await redis.get(keys.gen)).toMatch(/^rebuilding:/);
    expect(await redis.get(keys.rebuildLock)).toBe("another-process");

    // The other process gone (its lock expired), the next start rebuilds.
    await redis.del(keys.rebuildLock);
    const generation = await ensureLiveState(options);
    expect(generation).not.toMatch(/^rebuilding:/);
    expect(await historyOf(current, "deep")).toHaveLength(180);
    expect(await auditAll(current)).toEqual([]);
    expect(await redis.exists(keys.rebuildLock)).toBe(0);
  }, 120_000);
});

describe("when the leaderboard lock is taken by another process while the publisher reads the top leads", () => {
  it("emits nothing then, and emits once the other's lock has expired", async () => {
    const redis = client();
    const redisPrefix = uniqueName("lock-pub");
    const lockKey = leaderboardKeys(redisPrefix).lock;
    const emits: LeaderboardEmit[] = [];
    let reads = 0;
    let thiefUntil = 0;
    const publisher = createScorePublisher({
      redis,
      redisPrefix,
      log: silentLogger,
      leaderboardIntervalMs: 50,
      onLeaderboardEmit: (emit) => emits.push(emit),
      live: {
        async leaderboardEntries() {
          reads += 1;
          if (reads === 1) {
            await redis.set(lockKey, "another-process", "PX", 300);
            const [seconds, micros] = await redis.time();
            thiefUntil = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + 290;
          }
          return [];
        },
      },
    });
    try {
      const update: ScoreUpdate = {
        lead_id: "ada",
        current_score: 10,
        delta: 10,
        stage: "cold",
        event_id: "e1",
        event_type: "email_open",
        timestamp: new Date().toISOString(),
      };
      await publisher.publish([update]);
      await eventually(async () => emits.length === 1, 10_000);
      expect(reads).toBe(2);
      // The emit is the second read's, made under a lock won after the other process's had expired.
      expect(emits[0]?.grantedAt).toBeGreaterThanOrEqual(thiefUntil);
    } finally {
      await publisher.close();
      await redis.del(lockKey, leaderboardKeys(redisPrefix).dirty);
    }
  }, 30_000);
});
