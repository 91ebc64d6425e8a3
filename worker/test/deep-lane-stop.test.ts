// A stopping worker folds the leads its batches handed to the deep lane (their jobs are complete by then), so a
// SIGTERM leaves the live state the fold of what is stored, not a lead waiting for the next process's lane.
import { COLLECTIONS, type EventDocument } from "@leadscore/contracts";
import { createLiveReader, type LiveEntry, liveKeys, wholeHistory } from "@leadscore/live";
import { loadPagesFrom } from "@leadscore/live/audit";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { auditAll, createStack } from "../../test-support/worker-stack.ts";
import { createDeepLane } from "../src/deep-lane.ts";
import { createScorer } from "../src/scorer.ts";
import { CAP, FORM_RULES, formEvent, THRESHOLDS, writerOf } from "./form-bed.ts";
import { useLiveBed } from "./live-bed.ts";

const GENERATION = "deep-lane-stop:test";

describe("when the deep lane stops with a lead waiting", () => {
  const bed = useLiveBed("deep-lane-stop", GENERATION);
  const writer = writerOf(bed, GENERATION);
  const historyOf = async (leadId: string): Promise<string[]> => {
    const reader = createLiveReader({ redis: bed.redis, redisPrefix: bed.prefix, cap: CAP, thresholds: THRESHOLDS });
    const lead = await reader.leadWithTail(leadId);
    if (!lead) return [];
    const history: LiveEntry[] = await wholeHistory(lead, loadPagesFrom(bed.db), CAP);
    return history.map((entry) => entry.event_id);
  };

  it.each([
    ["folds it first when asked to finish", 10_000, ["f-b0", "f-b1"]],
    ["leaves it to the next pass when not", 0, ["f-b1"]],
  ] as const)("%s", async (_, finishWithinMs, expected) => {
    const run = finishWithinMs > 0 ? "f" : "n";
    const lead = `${run}-bob`;
    const scorer = createScorer({ ...writer(bed.keys), rules: () => FORM_RULES });
    // The lane runs no pass before it stops: the lead handed to it waits in its hash.
    const deepLane = createDeepLane({ ...writer(bed.keys), idleMs: 60_000 });
    await scorer.scoreBatch([formEvent(lead, `${run}-b1`, 20)]);
    // A batch that stored its event and died before its commit: the event sent again is a duplicate the tail does
    // not hold, so the lead goes to the deep lane to rescan its stored events.
    const crashed = [formEvent(lead, `${run}-b0`, 5)];
    const { docs } = await scorer.prepareEvents(crashed);
    await bed.db.collection<EventDocument>(COLLECTIONS.events).insertMany(docs);
    await scorer.scoreBatch(crashed);
    expect(await bed.redis.hexists(bed.keys.deep, lead)).toBe(1);

    await deepLane.stop({ finishWithinMs });
    expect(await historyOf(lead)).toEqual(expected.map((id) => id.replace("f-", `${run}-`)));
    expect(await bed.redis.hexists(bed.keys.deep, lead)).toBe(finishWithinMs > 0 ? 0 : 1);
  });
});

describe("when a worker stops with a lead in its deep lane", () => {
  it("folds the lead before it exits", async () => {
    const stack = await createStack();
    const redis = new Redis(REDIS_URL);
    try {
      // The lane's first pass runs at start; the next would come only after a minute.
      const worker = await stack.startWorker({ deepLaneIdleMs: 60_000 });
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      const event = (id: string, minute: number) => ({ ...formEvent("w-ada", id, minute), event_type: "purchase" });
      await stack.send([event("w-a1", 20)]);
      await stack.drained();
      // Only to store the event as the worker's batch would have, before the crash it did not survive.
      const scorer = createScorer({
        db: stack.db,
        redis,
        keys,
        generation: () => "",
        cap: stack.config.SCORE_CAP,
        thresholds: stack.config.STAGE_THRESHOLDS,
        encodeUpdates: () => new Map(),
        log: silentLogger,
        rules: worker.rules.current,
      });
      const { docs } = await scorer.prepareEvents([event("w-a0", 5)]);
      await stack.db.collection<EventDocument>(COLLECTIONS.events).insertMany(docs);
      await stack.send([event("w-a0", 5)]);
      await eventually(async () => (await redis.hexists(keys.deep, "w-ada")) === 1);

      await worker.close();
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
      await stack.close();
    }
  });
});
