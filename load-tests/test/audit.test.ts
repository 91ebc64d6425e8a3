import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type HistoryDocument,
  type LeadDocument,
  type ScorableEvent,
} from "@leadscore/contracts";
import type { Db } from "mongodb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { auditRun } from "../harness/audit.ts";
import { createLedger, type Ledger } from "../harness/ledger.ts";
import { leadIdFor } from "../src/payloads.ts";
import { createRandom } from "../src/random.ts";

const RUN = "ltaudit";
const T0 = Date.UTC(2026, 0, 1);

/** Stores what a correct worker would for `events`, per lead. */
async function storeScored(db: Db, events: ScorableEvent[]) {
  const byLead = new Map<string, ScorableEvent[]>();
  for (const event of events) byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), event]);
  for (const [leadId, leadEvents] of byLead) {
    const { history, score, reachedAt } = foldScores(leadEvents, 1000);
    await db.collection<EventDocument>(COLLECTIONS.events).insertMany(
      history.map((h) => ({
        _id: h.event_id,
        lead_id: h.lead_id,
        event_type: h.event_type,
        timestamp: new Date(h.timestamp),
        received_at: new Date(h.received_at),
        metadata: {},
        points: h.points,
        rule_id: h.rule_id,
        sort_key: h.sort_key,
      })),
    );
    await db.collection<HistoryDocument>(COLLECTIONS.history).insertMany(
      history.map((h) => ({
        _id: h.event_id,
        event_id: h.event_id,
        lead_id: h.lead_id,
        event_type: h.event_type,
        timestamp: new Date(h.timestamp),
        received_at: new Date(h.received_at),
        points: h.points,
        delta: h.delta,
        score: h.score,
        reason: h.reason,
        rule_id: h.rule_id,
        sort_key: h.sort_key,
        late: false,
        seq: h.seq,
        score_reached_at: h.score_reached_at === null ? null : new Date(h.score_reached_at),
      })),
    );
    const last = history[history.length - 1];
    await db.collection<LeadDocument>(COLLECTIONS.leads).insertOne({
      _id: leadId,
      name: null,
      email: null,
      company: null,
      current_score: score,
      stage: "cold",
      event_count: history.length,
      last_event_at: last ? new Date(last.timestamp) : null,
      score_reached_at: reachedAt === null ? null : new Date(reachedAt),
      last_sort_key: last?.sort_key ?? null,
      version: history.length,
      created_at: new Date(T0),
      updated_at: new Date(T0),
    });
  }
}

function event(id: string, rank: number, minute: number, points: number): ScorableEvent {
  return {
    event_id: `${RUN}.h.${id}`,
    lead_id: leadIdFor(RUN, rank),
    event_type: points > 0 ? "purchase" : "page_view",
    timestamp: T0 + minute * 60_000,
    received_at: T0 + 3600_000,
    points,
    rule_id: points === 0 ? null : "rule",
  };
}

describe("the correctness audit", () => {
  let db: Db;
  let drop: () => Promise<void>;
  let ledger: Ledger;
  const scored = [event("1", 0, 1, 600), event("2", 0, 3, 600), event("3", 0, 2, 100), event("4", 1, 1, 5)];

  beforeEach(async () => {
    ({ db, drop } = await createTestDb());
    ledger = createLedger();
    for (const e of scored) ledger.record(e.event_id, Number(e.lead_id.split("-").pop()), "fresh", "accepted");
    // A retry answered as a duplicate, an event refused, and one whose request never got an answer.
    ledger.record(`${RUN}.h.2`, 0, "duplicate", "duplicate");
    ledger.record(`${RUN}.h.refused`, 1, "invalid", "rejected");
    ledger.record(`${RUN}.h.lost`, 1, "fresh", "error");
    await storeScored(db, scored);
  });
  afterEach(async () => drop());

  const audit = () => auditRun({ db, runId: RUN, ledger, scoreCap: 1000, sampleSize: 20, random: createRandom(1) });

  it("passes when every accepted event is scored once and the scores refold", async () => {
    const result = await audit();
    expect(result.checks.filter((c) => !c.pass)).toEqual([]);
    expect(result.status).toBe("PASS");
    expect(result.counts).toMatchObject({ expectedPresent: 4, expectedAbsent: 1, unknown: 1, duplicatesAnswered: 1 });
    expect(result.sampledLeads).toEqual([leadIdFor(RUN, 0), leadIdFor(RUN, 1)]);
  });

  it("fails when an accepted event never reached the history", async () => {
    await db.collection(COLLECTIONS.history).deleteOne({ _id: `${RUN}.h.4` as never });
    const result = await audit();
    expect(result.status).toBe("FAIL");
    expect(result.checks.find((c) => c.name === "every accepted event is scored exactly once")?.pass).toBe(false);
  });

  it("fails when a refused event was scored", async () => {
    await storeScored(db, [{ ...event("refused", 2, 5, 10) }]);
    const result = await audit();
    expect(result.checks.find((c) => c.name === "no refused event is scored")?.pass).toBe(false);
  });

  it("fails when a lead's history does not refold from its stored events", async () => {
    // A late event scored as if it came last: +600 +600 +100 → 1000 1000 1000 instead of 600 700 1000.
    await db
      .collection(COLLECTIONS.history)
      .updateOne({ _id: `${RUN}.h.3` as never }, { $set: { score: 1000, delta: 0 } });
    const result = await audit();
    expect(result.checks.find((c) => c.name === "sampled leads recompute from their stored events")?.pass).toBe(false);
  });

  it("fails when the edge accepted a retry as new", async () => {
    ledger.record(`${RUN}.h.1`, 0, "duplicate", "accepted");
    const result = await audit();
    expect(result.checks.find((c) => c.name === "the edge never accepts one id twice")?.pass).toBe(false);
  });
});
