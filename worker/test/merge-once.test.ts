// One merge, one announcement: events reaching the merged id after its merge committed (a batch that resolved the id
// before the merge was recorded, committing after the deep lane folded it) are folded into the root, and the merge is
// announced once — one `lead.merged` in the webhook outbox, one socket message to the merged lead's room, one merge
// record — however many passes fold such stragglers.
import { createLiveReader, type LiveEntry, mergeRecords, wholeHistory } from "@leadscore/live";
import { loadPagesFrom } from "@leadscore/live/audit";
import { describe, expect, it } from "vitest";
import { createDeepLane } from "../src/deep-lane.ts";
import { createMergeRecorder } from "../src/merge.ts";
import { createScorer } from "../src/scorer.ts";
import { CAP, FORM_RULES, formEvent, T0, THRESHOLDS, writerOf } from "./form-bed.ts";
import { drainDeepLane, useLiveBed } from "./live-bed.ts";

const GENERATION = "merge-once:test";

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
    const recorder = createMergeRecorder(writer());
    // The merge lands, and its deep-lane fold commits, after this batch resolved its ids and before it commits.
    let inWindow = false;
    const scorer = createScorer({
      ...writer(),
      rules: () => FORM_RULES,
      beforeCommit: async () => {
        if (!inWindow) return;
        inWindow = false;
        await recorder.apply([{ from: "anon", into: "ada", kind: "identify", at: T0 }]);
        await drainDeepLane(deepLane, bed);
      },
    });
    try {
      await scorer.scoreBatch([formEvent("anon", "a1", 1), formEvent("ada", "k1", 2)]);
      inWindow = true;
      await scorer.scoreBatch([formEvent("anon", "a2", 3)]);
      expect(inWindow).toBe(false);
      await drainDeepLane(deepLane, bed);
      // And once more, a later event with the merged id lands on the root directly.
      await scorer.scoreBatch([formEvent("anon", "a3", 4)]);
      await drainDeepLane(deepLane, bed);

      const reader = createLiveReader({ redis, redisPrefix: bed.prefix, cap: CAP, thresholds: THRESHOLDS });
      expect(await reader.lead("anon")).toBeNull();
      const lead = await reader.leadWithTail("ada");
      const history: LiveEntry[] = lead ? await wholeHistory(lead, loadPagesFrom(bed.db), CAP) : [];
      expect(history.map((entry) => [entry.event_id, entry.score])).toEqual([
        ["a1", 40],
        ["k1", 80],
        ["a2", 120],
        ["a3", 160],
      ]);
      const announced = (await redis.xrange(keys.outbox.stream, "-", "+")).filter(([, fields]) =>
        fields.some((value, i) => i % 2 === 1 && fields[i - 1] === "type" && value === "lead.merged"),
      );
      expect(announced).toHaveLength(1);
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
