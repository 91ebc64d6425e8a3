// One merge, one announcement: events reaching the merged id after its merge committed (a batch that resolved the id
// before the merge was recorded, committing after the deep lane folded it) are folded into the root, and the merge is
// announced once — one `lead.merged` in the webhook outbox, one socket message to the merged lead's room, one merge
// record — however many passes fold such stragglers.

import type { QueuedEvent } from "@leadscore/contracts";
import {
  createLiveReader,
  decodeOutboxMessage,
  encodeRescoreRecord,
  type LiveEntry,
  mergeRecords,
  wholeHistory,
} from "@leadscore/live";
import { auditLiveState, loadPagesFrom } from "@leadscore/live/audit";
import { describe, expect, it } from "vitest";
import { createDeepLane } from "../src/deep-lane.ts";
import { createMergeRecorder } from "../src/merge.ts";
import { createScorer } from "../src/scorer.ts";
import { CAP, FORM_RULES, formEvent, T0, THRESHOLDS, writerOf } from "./form-bed.ts";
import { drainDeepLane, type LiveBed, useLiveBed } from "./live-bed.ts";

const GENERATION = "merge-once:test";
const STOPPED = "stopped right after the commit";

/** The root's whole history, `[event_id, score]` by entry, once the merged lead is gone from the live state. */
async function rootHistory({ redis, prefix, db }: LiveBed): Promise<[string, number][]> {
  const reader = createLiveReader({ redis, redisPrefix: prefix, cap: CAP, thresholds: THRESHOLDS });
  expect(await reader.lead("anon")).toBeNull();
  const lead = await reader.leadWithTail("ada");
  const history: LiveEntry[] = lead ? await wholeHistory(lead, loadPagesFrom(db), CAP) : [];
  return history.map((entry) => [entry.event_id, entry.score]);
}

/** The `lead.merged` messages in the webhook outbox: merged id, root, the root's score before and after. */
async function mergesAnnounced({ redis, keys }: LiveBed): Promise<string[][]> {
  return (await redis.xrange(keys.outbox.stream, "-", "+"))
    .map(([, fields]) => decodeOutboxMessage(fields))
    .filter((message) => message.type === "lead.merged")
    .map((message) => [message.from, message.lead, message.prev, message.score]);
}

/**
 * A scorer, and a way to score a batch with the merge of `anon` into `ada` recorded (then `fold` run) after the batch
 * resolved its ids and before it commits.
 */
function mergingScorer(writer: ReturnType<typeof writerOf>, fold: () => Promise<void>) {
  const recorder = createMergeRecorder(writer());
  let inWindow = false;
  const scorer = createScorer({
    ...writer(),
    rules: () => FORM_RULES,
    beforeCommit: async () => {
      if (!inWindow) return;
      inWindow = false;
      await recorder.apply([{ from: "anon", into: "ada", kind: "identify", at: T0 }]);
      await fold();
    },
  });
  const mergeInWindow = async (events: QueuedEvent[]) => {
    inWindow = true;
    await scorer.scoreBatch(events);
    expect(inWindow).toBe(false);
  };
  return { scorer, recorder, mergeInWindow };
}

describe("events reaching a merged id after its merge committed", () => {
  const bed = useLiveBed("merge-once", GENERATION);
  const writer = writerOf(bed, GENERATION);

  it("fold into the root with no second merge commit: one lead.merged, one socket message, one record", async () => {
    const { redis, keys } = bed;
    await redis.set(keys.outbox.wants, "sm");
    const room = `${bed.prefix}:room`;
    const subscriber = redis.duplicate();
    const heard: string[] = [];
    await subscriber.subscribe(room);
    subscriber.on("message", (_channel, message) => heard.push(message));
    const merged: string[] = [];
    const deepLane = createDeepLane({
      ...writer(),
      encodeMerged: (from, into) => [[room, Buffer.from(`${from}>${into}`)]],
      onMerged: (merges) => merged.push(...merges.map(({ from, into }) => `${from}>${into}`)),
    });
    // The merge lands, and its deep-lane fold commits, after the window's batch resolved its ids and before it commits.
    const { scorer, mergeInWindow } = mergingScorer(writer, () => drainDeepLane(deepLane, bed));
    try {
      await scorer.scoreBatch([formEvent("anon", "a1", 1), formEvent("ada", "k1", 2)]);
      await mergeInWindow([formEvent("anon", "a2", 3)]);
      await drainDeepLane(deepLane, bed);
      // And once more, a later event with the merged id lands on the root directly.
      await scorer.scoreBatch([formEvent("anon", "a3", 4)]);
      await drainDeepLane(deepLane, bed);

      expect(await rootHistory(bed)).toEqual([
        ["a1", 40],
        ["k1", 80],
        ["a2", 120],
        ["a3", 160],
      ]);
      expect(await mergesAnnounced(bed)).toEqual([["anon", "ada", "40", "80"]]);
      expect(merged).toEqual(["anon>ada"]);
      await expect.poll(() => heard).toEqual(["anon>ada"]);
      const records = await mergeRecords(redis, keys, "ada");
      expect(records).toEqual([
        expect.objectContaining({ from: "anon", into: "ada", scoreBefore: 40, scoreAfter: 80 }),
      ]);
      expect(await redis.hgetall(keys.mergedFrom("ada"))).toEqual({ anon: "1" });
    } finally {
      await deepLane.stop();
      subscriber.disconnect();
    }
  });
});

describe("when the deep lane stops right after a merge's commit", () => {
  const bed = useLiveBed("merge-stopped", GENERATION);
  const writer = writerOf(bed, GENERATION);

  it("announces the merge once and the root keeps its record when the next process folds the stragglers", async () => {
    const { redis, keys } = bed;
    await redis.set(keys.outbox.wants, "m");
    let stopAfterCommit = false;
    const first = createDeepLane({
      ...writer(),
      afterCommit: async () => {
        if (stopAfterCommit) throw new Error(STOPPED);
      },
    });
    // The merge lands, and the pass that commits it stops at once, after the window's batch resolved its ids and
    // before it commits: that batch's event reaches the merged id's deep-lane list.
    const { scorer, recorder, mergeInWindow } = mergingScorer(writer, async () => {
      stopAfterCommit = true;
      await expect(first.runOnce()).rejects.toThrow(STOPPED);
      await first.stop();
    });
    const next = createDeepLane(writer());
    try {
      // What the anonymous lead holds besides its events goes to the root too: an earlier merge into it (its
      // merged-from count and merge record), a re-score that moved it, its search text.
      await scorer.scoreBatch([formEvent("anon0", "z1", 0), formEvent("anon", "a1", 1), formEvent("ada", "k1", 2)]);
      await recorder.apply([{ from: "anon0", into: "anon", kind: "admin", at: T0 }]);
      await drainDeepLane(first, bed);
      const rescore = encodeRescoreRecord({
        version: 3,
        merged: null,
        from: 2,
        at: T0,
        scoreBefore: 40,
        scoreAfter: 80,
        stageBefore: "cold",
        stageAfter: "cold",
      });
      await redis.hset(keys.rescoreLog("anon"), "3", rescore);
      await redis.hset(keys.searchTexts, "anon", "anon");

      await mergeInWindow([formEvent("anon", "a2", 3)]);
      expect(await redis.lrange(keys.deepEvents("anon"), 0, -1)).toHaveLength(1);
      await drainDeepLane(next, bed);

      expect(await rootHistory(bed)).toEqual([
        ["z1", 40],
        ["a1", 80],
        ["k1", 120],
        ["a2", 160],
      ]);
      expect(await mergesAnnounced(bed)).toEqual([
        ["anon0", "anon", "40", "80"],
        ["anon", "ada", "40", "120"],
      ]);
      expect(await mergeRecords(redis, keys, "ada")).toEqual([
        expect.objectContaining({ from: "anon0", into: "anon", events: 1, scoreBefore: 40, scoreAfter: 80 }),
        expect.objectContaining({ from: "anon", into: "ada", events: 2, scoreBefore: 40, scoreAfter: 120 }),
      ]);
      expect(await redis.hgetall(keys.mergedFrom("ada"))).toEqual({ anon0: "1", anon: "1" });
      expect(await redis.hgetall(keys.rescoreLog("ada"))).toEqual({ "3:anon": rescore });
      expect(await redis.hexists(keys.searchTexts, "anon")).toBe(0);
      const left = [keys.mergedFrom("anon"), keys.mergeLog("anon"), keys.rescoreLog("anon")];
      expect(await redis.exists(...left)).toBe(0);
      const audit = await auditLiveState({
        db: bed.db,
        redis,
        redisPrefix: bed.prefix,
        cap: CAP,
        thresholds: THRESHOLDS,
      });
      expect(audit.problems).toEqual([]);
    } finally {
      await first.stop();
      await next.stop();
    }
  });
});
