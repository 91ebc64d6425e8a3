import { COLLECTIONS, type LeadDocument, type QueuedEvent, silentLogger } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { createScorer } from "../src/scorer.ts";
import { detectStoreLimits, type StoreLimits } from "../src/store.ts";
import { auditAll, historyOf, queued, T0, TEST_RULES } from "./helpers.ts";

const CAP = 1000;
let testDb: Awaited<ReturnType<typeof createTestDb>>;
let limits: StoreLimits;

const points = new Map(TEST_RULES.filter((rule) => rule.active).map((rule) => [rule.event_type, rule]));
const ruleFor = (type: string) => {
  const rule = points.get(type);
  return rule ? { points: rule.points, rule_id: rule._id } : { points: 0, rule_id: null };
};

/** A scorer without leases, so only the compare-and-set keeps rivals apart. */
function scorer(beforeCommit?: () => Promise<void>) {
  return createScorer({
    db: testDb.db,
    cap: CAP,
    thresholds: [100, 300, 600],
    ruleFor,
    limits,
    log: silentLogger,
    beforeCommit,
  });
}

/** Scores `ours` with a rival batch committed between our history write and our compare-and-set. */
async function scoreAgainstRival(ours: QueuedEvent[], rival: QueuedEvent[]) {
  const other = scorer();
  let interleaved = false;
  const result = await scorer(async () => {
    if (interleaved) return;
    interleaved = true;
    await other.scoreBatch(rival);
  }).scoreBatch(ours);
  return result;
}

// Both ways run whatever the server: history read per lead and updated, with the version in the lead's update filter
// (as on MongoDB); and history read in bulk and replaced, with the version checked by a re-read (as on FerretDB).
describe.each([
  { way: "per lead", bulk: false },
  { way: "in bulk", bulk: true },
])("reading history $way", ({ bulk }) => {
  beforeAll(async () => {
    testDb = await createTestDb();
    limits = {
      ...(await detectStoreLimits(testDb.db)),
      batchLookups: bulk,
      rewriteByReplace: bulk,
      versionInFilter: !bulk,
    };
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  describe("when another worker commits the same lead between our history write and our lead write", () => {
    it("loses the compare-and-set, appends again from the winner's state, and both batches count", async () => {
      await scorer().scoreBatch([queued("cas-a", "a0", "page_view", T0)]);
      const result = await scoreAgainstRival(
        [queued("cas-a", "a2", "purchase", T0 + 20)],
        [queued("cas-a", "a1", "email_open", T0 + 10)],
      );
      expect(result.retries).toBe(1);
      expect((await historyOf(testDb.db, "cas-a")).map((entry) => [entry.event_id, entry.score])).toEqual([
        ["a0", 5],
        ["a1", 15],
        ["a2", 115],
      ]);
      expect(result.updates).toEqual([expect.objectContaining({ lead_id: "cas-a", current_score: 115, delta: 100 })]);
    });

    it("recomputes when the winner's events are newer than ours", async () => {
      await scorer().scoreBatch([queued("cas-b", "b0", "big", T0)]);
      const result = await scoreAgainstRival(
        [queued("cas-b", "b1", "big", T0 + 10)],
        [queued("cas-b", "b2", "unsubscribe", T0 + 20)],
      );
      expect(result.retries).toBe(1);
      expect((await historyOf(testDb.db, "cas-b")).map((entry) => [entry.event_id, entry.delta, entry.score])).toEqual([
        ["b0", 600, 600],
        ["b1", 400, 1000],
        ["b2", -50, 950],
      ]);
    });

    it("takes over a lead the rival created first", async () => {
      const result = await scoreAgainstRival(
        [queued("cas-c", "c1", "purchase", T0 + 10)],
        [queued("cas-c", "c0", "purchase", T0)],
      );
      expect(result.retries).toBe(1);
      const lead = await testDb.db.collection<LeadDocument>(COLLECTIONS.leads).findOne({ _id: "cas-c" });
      expect(lead).toMatchObject({ current_score: 200, event_count: 2, version: 2 });
    });

    it("leaves every lead equal to the fold of its stored events", async () => {
      expect(await auditAll(testDb.db, CAP)).toEqual([]);
    });
  });

  describe("when a job is re-run after its worker died before writing the lead", () => {
    it("recomputes the lead from the stored copies, even after a newer event was scored meanwhile", async () => {
      const crashed = [queued("crash-a", "k1", "purchase", T0), queued("crash-a", "k2", "purchase", T0 + 10)];
      // The worker stored the events and their history entries, then died before its lead write.
      await scorer(async () => {
        throw new Error("killed");
      })
        .scoreBatch(crashed)
        .catch(() => undefined);
      await scorer().scoreBatch([queued("crash-a", "k3", "purchase", T0 + 20)]);
      expect(await auditAll(testDb.db, CAP)).not.toEqual([]);
      const replay = await scorer().scoreBatch(crashed);
      expect(replay.duplicates).toBe(2);
      expect((await historyOf(testDb.db, "crash-a")).map((entry) => entry.score)).toEqual([100, 200, 300]);
      expect(await auditAll(testDb.db, CAP)).toEqual([]);
    });
  });
});
