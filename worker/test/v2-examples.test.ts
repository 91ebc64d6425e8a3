// The examples of docs/scoring.md, through the worker as it runs (the scorer, then the deep lane for events that land
// behind a lead's tail) on real Redis and MongoDB: "page_view where metadata.path starts with /pricing = 20, at most
// 3 a day; email_open = 5 at most once per email; group email max 60", events in any order, and which rule gave which
// point — in the history and in the breakdown.
import type { QueuedEvent, RuleSet } from "@leadscore/contracts";
import { createLiveReader, liveKeys, wholeHistory } from "@leadscore/live";
import { loadPagesFrom } from "@leadscore/live/audit";
import { silentLogger } from "@leadscore/runtime";
import { describe, expect, it } from "vitest";
import { ISSUE_EXAMPLE_RULES } from "../../test-support/rule-sets.ts";
import { createDeepLane } from "../src/deep-lane.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import { createScorer, type LiveWriterOptions } from "../src/scorer.ts";
import { drainDeepLane, useLiveBed } from "./live-bed.ts";

const MONDAY = Date.parse("2026-01-05T00:00:00Z");
const HOUR = 3_600_000;
const THRESHOLDS = [100, 300, 600] as const;
const GENERATION = "v2-examples:test";

/** One rule of group `web` (max 60), +40, at most 2 a day, scored under a cap of 50. */
const CLAMP_RULES: RuleSet = {
  version: 1,
  groups: [{ _id: "web", label: "Web", max: 60 }],
  rules: [
    {
      _id: "g",
      label: "G",
      event_type: "visit",
      points: 40,
      limit: { max: 2, per: "day" },
      group: "web",
      active: true,
    },
  ],
};

describe("the scoring examples, through the worker", () => {
  const bed = useLiveBed("v2-examples", GENERATION);
  const { prefix } = bed;
  let received = MONDAY + 30 * 24 * HOUR;

  const event = (lead: string, id: string, type: string, at: number, metadata: Record<string, unknown>) =>
    ({
      event_id: `${lead}-${id}`,
      lead_id: lead,
      event_type: type,
      timestamp: at,
      received_at: 0,
      metadata,
    }) satisfies QueuedEvent;

  /** Scores the batches in order (each event received as it is sent), drains the deep lane, returns the lead. */
  async function score(rules: RuleSet, cap: number, batches: QueuedEvent[][]) {
    const { db, redis } = bed;
    const writer: LiveWriterOptions = {
      db,
      redis,
      keys: liveKeys(prefix),
      generation: () => GENERATION,
      cap,
      thresholds: THRESHOLDS,
      encodeUpdates: () => new Map(),
      log: silentLogger,
    };
    const scorer = createScorer({ ...writer, rules: () => ruleMatcher(rules) });
    const deepLane = createDeepLane(writer);
    try {
      for (const batch of batches) {
        // Each event received as it is sent, after every event sent before it.
        const sent = batch.map((item, index) => ({ ...item, received_at: received + index + 1 }));
        received += batch.length;
        await scorer.scoreBatch(sent);
        await drainDeepLane(deepLane, bed);
      }
    } finally {
      await deepLane.stop();
    }
    const reader = createLiveReader({ redis, redisPrefix: prefix, cap, thresholds: THRESHOLDS });
    const leadId = batches[0]?.[0]?.lead_id as string;
    const lead = await reader.leadWithTail(leadId);
    if (!lead) throw new Error(`no lead ${leadId}`);
    const history = await wholeHistory(lead, loadPagesFrom(db), cap);
    return { lead, history, breakdown: await reader.breakdown(leadId) };
  }

  describe("when a pricing view stamped before three others of its day arrives last", () => {
    it("takes the award and the last of the three loses it", async () => {
      const views = [9, 10, 11].map((h) =>
        event("pv", `h${String(h).padStart(2, "0")}`, "page_view", MONDAY + h * HOUR, { path: "/pricing" }),
      );
      const late = event("pv", "h08", "page_view", MONDAY + 8 * HOUR, { path: "/pricing/plans" });
      const tuesday = event("pv", "tue", "page_view", MONDAY + 33 * HOUR, { path: "/pricing" });
      const { history, breakdown } = await score(ISSUE_EXAMPLE_RULES, 1000, [views, [tuesday], [late]]);
      expect(history.map((entry) => [entry.event_id, entry.delta, entry.rules[0]?.cuts])).toEqual([
        ["pv-h08", 20, []],
        ["pv-h09", 20, []],
        ["pv-h10", 20, []],
        ["pv-h11", 0, ["limit 3 per day reached"]],
        ["pv-tue", 20, []],
      ]);
      expect(history[3]?.reason).toBe("page_view +20 (limit 3 per day reached)");
      expect(breakdown?.rules).toEqual(new Map([["pricing", { points: 80, events: 5, group: null }]]));
    });
  });

  describe("when a lead opens one email twice and 14 others, in reverse order", () => {
    it("counts each email once and stops the group at its max of 60", async () => {
      const opens = [
        event("em", "a0", "email_open", MONDAY, { email_id: "n1" }),
        event("em", "a1", "email_open", MONDAY + 1, { email_id: "n1" }),
        ...Array.from({ length: 14 }, (_, i) =>
          event("em", `b${String(i).padStart(2, "0")}`, "email_open", MONDAY + HOUR + i, { email_id: `m${i}` }),
        ),
      ];
      const { lead, history, breakdown } = await score(
        ISSUE_EXAMPLE_RULES,
        1000,
        [...opens].reverse().map((open) => [open]),
      );
      expect(history.map((entry) => entry.delta)).toEqual([5, 0, ...Array(11).fill(5), 0, 0, 0]);
      expect(history[1]?.rules[0]?.cuts).toEqual(["limit 1 per lifetime for this metadata.email_id reached"]);
      expect(history.at(-1)?.rules[0]?.cuts).toEqual(['group "email" at its max 60']);
      expect(lead.score).toBe(60);
      expect(breakdown).toMatchObject({
        score: 60,
        rulesVersion: 3,
        groups: new Map([["email", { points: 60, events: 16, max: 60 }]]),
        rules: new Map([["open", { points: 60, events: 16, group: "email" }]]),
      });
    });
  });

  describe("when one rule meets its limit, its group's max and the cap", () => {
    it("clamps in that order and says so", async () => {
      const visits = [1, 2, 3].map((h) => event("cl", `v${h}`, "visit", MONDAY + h * HOUR, {}));
      const { history } = await score(CLAMP_RULES, 50, [
        [visits[2] as QueuedEvent],
        [visits[0] as QueuedEvent, visits[1] as QueuedEvent],
      ]);
      expect(history.map((entry) => [entry.delta, entry.score, entry.rules[0]?.cuts])).toEqual([
        [40, 40, []],
        [10, 50, ['group "web" at its max 60', "capped at 50"]],
        [0, 50, ["limit 2 per day reached"]],
      ]);
    });
  });
});
