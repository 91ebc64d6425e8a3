// An event id sent again under another lead id after the edge's de-duplication window: the stored copy (MongoDB
// `events`, `_id` = `event_id`, the ground truth of idempotency) decides which lead it belongs to, so the other copy is
// a duplicate, reported as one and folded nowhere — sent apart, or together in one batch over two lead partitions
// (one insert for both, the second copy's conflicting with the first's).
import type { QueuedEvent, ScorableEvent, ScoreUpdate } from "@leadscore/contracts";
import { createLiveReader, encodeEvent, type LiveEntry, type LiveKeys, liveKeys, wholeHistory } from "@leadscore/live";
import { loadPagesFrom } from "@leadscore/live/audit";
import { leadPartition, silentLogger } from "@leadscore/runtime";
import { describe, expect, it } from "vitest";
import { createDeepLane } from "../src/deep-lane.ts";
import { createBatchJournal } from "../src/journal.ts";
import { createWorkerMetrics } from "../src/metrics.ts";
import { createPartitionBatch } from "../src/partition-batch.ts";
import { type BatchResult, createScorer } from "../src/scorer.ts";
import { CAP, FORM_RULES, formEvent, THRESHOLDS, usePartitions, writerOf } from "./form-bed.ts";
import { drainDeepLane, useLiveBed } from "./live-bed.ts";

const GENERATION = "duplicate-owner:test";

describe("an event id sent again with another lead id, past the de-duplication window", () => {
  const bed = useLiveBed("duplicate-owner", GENERATION);
  const prefixes = usePartitions(bed, GENERATION, 2);

  const writer = writerOf(bed, GENERATION);
  const historyOf = async (prefix: string, leadId: string): Promise<string[]> => {
    const reader = createLiveReader({ redis: bed.redis, redisPrefix: prefix, cap: CAP, thresholds: THRESHOLDS });
    const lead = await reader.leadWithTail(leadId);
    if (!lead) return [];
    const history: LiveEntry[] = await wholeHistory(lead, loadPagesFrom(bed.db), CAP);
    return history.map((entry) => entry.event_id);
  };

  it.each([
    ["a lead the live state places alone", false],
    ["a lead the deep lane owns", true],
  ])("is a duplicate for %s, sent in a later batch", async (_, owned) => {
    const run = owned ? "o" : "p";
    const scorer = createScorer({ ...writer(bed.keys), rules: () => FORM_RULES });
    const deepLane = createDeepLane(writer(bed.keys));
    try {
      await scorer.scoreBatch([formEvent(`${run}-ada`, `${run}-x`, 10)]);
      await scorer.scoreBatch([formEvent(`${run}-bob`, `${run}-b1`, 20)]);
      // A late event: Bob's lead goes to the deep lane, which has not run yet.
      if (owned) await scorer.scoreBatch([formEvent(`${run}-bob`, `${run}-b0`, 5)]);
      const second = await scorer.scoreBatch([formEvent(`${run}-bob`, `${run}-x`, 30)]);
      expect(second.duplicates).toBe(1);
      await drainDeepLane(deepLane, bed);
      expect(await historyOf(bed.prefix, `${run}-ada`)).toEqual([`${run}-x`]);
      expect(await historyOf(bed.prefix, `${run}-bob`)).toEqual(owned ? [`${run}-b0`, `${run}-b1`] : [`${run}-b1`]);
    } finally {
      await deepLane.stop();
    }
  });

  it("is left out of a rescan that finds it waiting on the other lead's deep-lane list", async () => {
    const scorer = createScorer({ ...writer(bed.keys), rules: () => FORM_RULES });
    const updates: ScoreUpdate[] = [];
    const deepLane = createDeepLane({ ...writer(bed.keys), onCommitted: (done) => void updates.push(...done) });
    try {
      await scorer.scoreBatch([formEvent("w-ada", "w-x", 10)]);
      await scorer.scoreBatch([formEvent("w-bob", "w-b1", 20)]);
      // However a copy came to wait for Bob's lead (a writer before this one, a path not foreseen), the rescan folds
      // Bob's stored events, and that copy's stored one is Ada's.
      const copy: ScorableEvent = { ...formEvent("w-bob", "w-x", 30), points: 40, rule_id: "form" };
      await bed.redis.rpush(bed.keys.deepEvents("w-bob"), JSON.stringify(encodeEvent(copy)));
      await bed.redis.hset(bed.keys.deep, "w-bob", "1");
      await drainDeepLane(deepLane, bed);
      expect(await historyOf(bed.prefix, "w-bob")).toEqual(["w-b1"]);
      // Nor does the rescan's update name it.
      expect(updates.map((update) => [update.lead_id, update.event_id])).toEqual([["w-bob", "w-b1"]]);
      expect(await bed.redis.llen(bed.keys.deepEvents("w-bob"))).toBe(0);
      expect(await historyOf(bed.prefix, "w-ada")).toEqual(["w-x"]);
    } finally {
      await deepLane.stop();
    }
  });

  /** Two leads of the run in different partitions: the first copy's and the second's. */
  const leadsOf = (run: string) => {
    const first = `${run}-ada`;
    for (let n = 0; ; n += 1) {
      const second = `${run}-bob-${n}`;
      if (leadPartition(second, 2) !== leadPartition(first, 2)) return { first, second };
    }
  };

  it.each([
    ["a lead the live state places alone", false],
    ["a lead the deep lane owns for a rescan", true],
  ])("is a duplicate for %s when both copies are in one batch over two partitions", async (_, owned) => {
    const run = owned ? "q" : "r";
    const { first, second } = leadsOf(run);
    const layout = prefixes.map((prefix) => liveKeys(prefix));
    const keysOf = (leadId: string) => layout[leadPartition(leadId, 2)] as LiveKeys;
    const results: BatchResult[] = [];
    const parts = layout.map((keys) => {
      const scorer = createScorer({ ...writer(keys), rules: () => FORM_RULES });
      const scoreInserted: typeof scorer.scoreInserted = async (...args) => {
        const result = await scorer.scoreInserted(...args);
        results.push(result);
        return result;
      };
      return {
        scorer: { ...scorer, scoreInserted },
        journal: createBatchJournal({ db: bed.db, redis: bed.redis, keys: keys.journal }),
        recheck: async () => undefined,
        inHand: new Set<string>(),
      };
    });
    const deepLanes = layout.map((keys) => createDeepLane(writer(keys)));
    const run1 = createPartitionBatch({
      db: bed.db,
      partitions: parts,
      metrics: createWorkerMetrics(),
      publish: async () => undefined,
      attempts: 1,
      onDeadLettered: () => undefined,
      log: silentLogger,
    });
    const scoreTogether = async (events: QueuedEvent[]) => {
      const byPartition = new Map<number, QueuedEvent[]>();
      for (const each of events) {
        const part = leadPartition(each.lead_id, 2);
        byPartition.set(part, [...(byPartition.get(part) ?? []), each]);
      }
      await run1(events, byPartition);
    };
    try {
      await scoreTogether([formEvent(second, `${run}-b1`, 20)]);
      if (owned) {
        // Bob's lead waits for the deep lane to rescan its stored events (as after a duplicate it never folded).
        await bed.redis.hset(keysOf(second).deep, second, "1");
      }
      results.length = 0;
      await scoreTogether([formEvent(first, `${run}-x`, 10), formEvent(second, `${run}-x`, 30)]);
      expect(results.reduce((sum, result) => sum + result.duplicates, 0)).toBe(1);
      for (const [p, lane] of deepLanes.entries())
        await drainDeepLane(lane, { redis: bed.redis, keys: layout[p] as LiveKeys });
      expect(await historyOf(prefixes[leadPartition(first, 2)] as string, first)).toEqual([`${run}-x`]);
      expect(await historyOf(prefixes[leadPartition(second, 2)] as string, second)).toEqual([`${run}-b1`]);
    } finally {
      for (const lane of deepLanes) await lane.stop();
    }
  });
});
