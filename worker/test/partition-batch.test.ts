// A batch that holds the events of several lead partitions (partition-batch.ts), against real Redis and MongoDB: one
// journal entry and one insert for all of them, each partition's leads committed into its own live state, its entry
// marked done in every partition, and a partition whose live state went stale waited for, the others kept.
import { COLLECTIONS, type QueuedEvent } from "@leadscore/contracts";
import { createLiveReader, liveKeys } from "@leadscore/live";
import { leadPartition, partitionPrefixes, silentLogger } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";
import { createBatchJournal } from "../src/journal.ts";
import { createWorkerMetrics } from "../src/metrics.ts";
import { createPartitionBatch, type PartitionScoring } from "../src/partition-batch.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import { createScorer } from "../src/scorer.ts";

const GENERATION = "partition-batch:test";
const THRESHOLDS = [100, 300, 600] as const;
const RULES = ruleMatcher({
  version: 1,
  groups: [],
  rules: [{ _id: "purchase", label: "Purchase", event_type: "purchase", points: 100, active: true }],
});

describe("when a batch holds the events of three partitions", () => {
  const prefix = uniqueName("pbatch");
  const prefixes = partitionPrefixes(prefix, 3);
  let db: Db;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  /** Insert calls on the events collection, counted by wrapping the driver's collection. */
  let inserts = 0;
  /** Generation rechecks asked of each partition. */
  const rechecks = [0, 0, 0];

  beforeAll(async () => {
    const testDb = await createTestDb(prefix);
    const testRedis = await createTestRedis(prefix);
    const partitions = await Promise.all(prefixes.map((each) => createTestRedis(each)));
    db = testDb.db;
    redis = testRedis.redis;
    cleanup = async () => {
      for (const each of partitions) await each.cleanup();
      await testRedis.cleanup();
      await testDb.drop();
    };
    for (const each of prefixes) await redis.set(liveKeys(each).gen, GENERATION);
  });

  afterAll(async () => cleanup?.());

  const scoringOf = (database: Db, index: number): PartitionScoring => {
    const keys = liveKeys(prefixes[index] as string);
    const writer = {
      db: database,
      redis,
      keys,
      generation: () => GENERATION,
      cap: 1000,
      thresholds: THRESHOLDS,
      encodeUpdates: () => new Map(),
      log: silentLogger,
    };
    return {
      scorer: createScorer({ ...writer, rules: () => RULES }),
      journal: createBatchJournal({ db: database, redis, keys: keys.journal }),
      recheck: async () => {
        rechecks[index] = (rechecks[index] ?? 0) + 1;
        await redis.set(keys.gen, GENERATION);
      },
      inHand: new Set(),
    };
  };

  /** The batch run over the three partitions, its database's events collection counting its inserts. */
  const batchRun = () => {
    const counting = new Proxy(db, {
      get(target, name) {
        if (name !== "collection") return Reflect.get(target, name);
        return (collection: string) => {
          const real = target.collection(collection);
          if (collection !== COLLECTIONS.events) return real;
          return new Proxy(real, {
            get(inner, method) {
              const value = Reflect.get(inner, method);
              if (method !== "insertMany" || typeof value !== "function") return value;
              return (...args: unknown[]) => {
                inserts += 1;
                return value.apply(inner, args);
              };
            },
          });
        };
      },
    });
    return createPartitionBatch({
      db: counting,
      partitions: prefixes.map((_, index) => scoringOf(db, index)),
      metrics: createWorkerMetrics(),
      publish: async () => undefined,
      attempts: 1,
      onDeadLettered: () => undefined,
      log: silentLogger,
    });
  };

  /** Two purchases per lead, leads spread so that each partition has some. */
  const eventsByPartition = (label: string) => {
    const byPartition = new Map<number, QueuedEvent[]>();
    for (let i = 0; i < 12; i += 1) {
      const lead = `${label}-${i}`;
      const part = leadPartition(lead, prefixes.length);
      const events = byPartition.get(part) ?? [];
      for (const n of [0, 1]) {
        events.push({
          event_id: `${lead}-${n}`,
          lead_id: lead,
          event_type: "purchase",
          timestamp: Date.parse("2026-01-01T00:00:00Z") + n,
          received_at: Date.now(),
          metadata: {},
        });
      }
      byPartition.set(part, events);
    }
    return byPartition;
  };

  const reader = (part: number) =>
    createLiveReader({ redis, redisPrefix: prefixes[part] as string, cap: 1000, thresholds: THRESHOLDS });

  it("stores every partition's events with one insert and journals them in one entry, done in each partition", async () => {
    const byPartition = eventsByPartition("one");
    expect(byPartition.size).toBe(3);
    const all = [...byPartition.values()].flat();
    inserts = 0;
    await batchRun()(all, byPartition);
    expect(inserts).toBe(1);
    for (const [part, events] of byPartition) {
      for (const lead of new Set(events.map((event) => event.lead_id))) {
        expect((await reader(part).lead(lead))?.score, lead).toBe(200);
        for (const other of [0, 1, 2].filter((each) => each !== part)) {
          expect(await redis.exists(liveKeys(prefixes[other] as string).lead(lead))).toBe(0);
        }
      }
    }
    // An entry keeps its event ids as one text, separated by spaces.
    const entries = (
      await db.collection<{ _id: string; events: string }>(COLLECTIONS.batchJournalIds).find({}).toArray()
    )
      .map((entry) => ({ _id: entry._id, events: entry.events.split(" ") }))
      .filter((entry) => entry.events.includes(all[0]?.event_id as string));
    expect(entries).toHaveLength(1);
    expect(new Set(entries[0]?.events)).toEqual(new Set(all.map((event) => event.event_id)));
    for (const each of prefixes) {
      expect(await redis.zscore(liveKeys(each).journal.done, entries[0]?._id as string)).not.toBeNull();
    }
  });

  it("waits for a partition whose live state went stale, then scores the batch once", async () => {
    const byPartition = eventsByPartition("stale");
    const stale = 1;
    await redis.set(liveKeys(prefixes[stale] as string).gen, "some other generation");
    const before = [...rechecks];
    await batchRun()([...byPartition.values()].flat(), byPartition);
    expect(rechecks.map((count, index) => count - (before[index] ?? 0))).toEqual([0, 1, 0]);
    for (const [part, events] of byPartition) {
      for (const lead of new Set(events.map((event) => event.lead_id))) {
        const live = await reader(part).lead(lead);
        expect([live?.score, live?.count], lead).toEqual([200, 2]);
      }
    }
  });
});
