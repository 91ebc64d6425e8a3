import {
  COLLECTIONS,
  DEFAULT_STAGE_THRESHOLDS,
  type EventDocument,
  keyOf,
  type ScorableEvent,
} from "@leadscore/contracts";
import { type LeadHashField, leadHashField, liveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";
import { createLiveSeeder } from "../../test-support/live.ts";
import { auditRun } from "../harness/audit.ts";
import { createLedger, type Ledger } from "../harness/ledger.ts";
import { leadIdFor } from "../src/payloads.ts";

const RUN = "ltaudit";
const T0 = Date.UTC(2026, 0, 1);

/** Stores what a correct worker would for `events`: the events in MongoDB, each lead's fold in the live state. */
async function storeScored(db: Db, redis: Redis, prefix: string, events: ScorableEvent[]) {
  const byLead = new Map<string, ScorableEvent[]>();
  for (const event of events) byLead.set(event.lead_id, [...(byLead.get(event.lead_id) ?? []), event]);
  await db.collection<EventDocument>(COLLECTIONS.events).insertMany(
    events.map((e) => ({
      _id: e.event_id,
      lead_id: e.lead_id,
      event_type: e.event_type,
      timestamp: new Date(e.timestamp),
      received_at: new Date(e.received_at),
      metadata: {},
      points: e.points,
      rule_id: e.rule_id,
      sort_key: keyOf(e),
    })),
  );
  const seeder = createLiveSeeder({ redis, db, redisPrefix: prefix, cap: 1000 });
  await seeder.seed([...byLead].map(([id, leadEvents]) => ({ id, events: leadEvents })));
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
  let redis: Redis;
  let cleanup: () => Promise<void>;
  let prefix: string;
  let ledger: Ledger;
  const scored = [event("1", 0, 1, 600), event("2", 0, 3, 600), event("3", 0, 2, 100), event("4", 1, 1, 5)];

  beforeEach(async () => {
    ({ db, drop } = await createTestDb());
    prefix = uniqueName("ltaudit");
    ({ redis, cleanup } = await createTestRedis(prefix));
    ledger = createLedger();
    for (const e of scored) ledger.record(e.event_id, Number(e.lead_id.split("-").pop()), "fresh", "accepted");
    // A retry answered as a duplicate, an event refused, and one whose request never got an answer.
    ledger.record(`${RUN}.h.2`, 0, "duplicate", "duplicate");
    ledger.record(`${RUN}.h.refused`, 1, "invalid", "rejected");
    ledger.record(`${RUN}.h.lost`, 1, "fresh", "error");
    await storeScored(db, redis, prefix, scored);
  });
  afterEach(async () => {
    await cleanup();
    await drop();
  });

  const audit = () =>
    auditRun({
      db,
      redis,
      redisPrefix: prefix,
      runId: RUN,
      ledger,
      scoreCap: 1000,
      thresholds: DEFAULT_STAGE_THRESHOLDS,
    });
  const failed = async () => (await audit()).checks.filter((c) => !c.pass).map((c) => c.name);

  /** Rewrites one field of a lead's live hash, as a faulty commit would. */
  const corrupt = (leadId: string, field: LeadHashField, value: string) =>
    redis.hset(liveKeys(prefix).lead(leadId), leadHashField(field), value);
  const tailOf = async (leadId: string) =>
    JSON.parse((await redis.hget(liveKeys(prefix).lead(leadId), leadHashField("tail"))) ?? "[]");

  it("passes when every accepted event is folded once and the live state is the fold", async () => {
    const result = await audit();
    expect(result.checks.filter((c) => !c.pass)).toEqual([]);
    expect(result.status).toBe("PASS");
    expect(result.counts).toMatchObject({
      expectedPresent: 4,
      expectedAbsent: 1,
      unknown: 1,
      duplicatesAnswered: 1,
      historyEntries: 4,
      storedEvents: 4,
      leads: 2,
    });
  });

  it("fails when an accepted event never reached the live state", async () => {
    // Lead 1's only event taken out of its history, count and score (as if never folded).
    await corrupt(leadIdFor(RUN, 1), "tail", "[]");
    await corrupt(leadIdFor(RUN, 1), "count", "0");
    await corrupt(leadIdFor(RUN, 1), "score", "0");
    expect(await failed()).toContain("every accepted event is scored exactly once");
  });

  it("fails when a refused event was scored", async () => {
    await storeScored(db, redis, prefix, [{ ...event("refused", 2, 5, 10) }]);
    expect(await failed()).toContain("no refused event is scored");
  });

  it("fails when an event is folded twice", async () => {
    const tail = await tailOf(leadIdFor(RUN, 1));
    await corrupt(leadIdFor(RUN, 1), "tail", JSON.stringify([...tail, tail[0]]));
    await corrupt(leadIdFor(RUN, 1), "count", "2");
    expect(await failed()).toContain("duplicates are not double counted");
  });

  it("fails when a lead's live state is not the fold of its stored events", async () => {
    // A late event scored as if it came last: +600 +600 +100 → 1000 1000 1000 instead of 600 700 1000.
    const tail = (await tailOf(leadIdFor(RUN, 0))) as unknown[][];
    const wrong = tail.map((entry) =>
      entry[0] === `${RUN}.h.3` ? [...entry.slice(0, 6), 0, 1000, ...entry.slice(8)] : entry,
    );
    await corrupt(leadIdFor(RUN, 0), "tail", JSON.stringify(wrong));
    expect(await failed()).toContain("every lead's live state is the fold of its stored events");
  });

  it("fails when a lead's score or leaderboard entry is off", async () => {
    await corrupt(leadIdFor(RUN, 1), "score", "6");
    expect(await failed()).toContain("every lead's live state is the fold of its stored events");
    await corrupt(leadIdFor(RUN, 1), "score", "5");
    await redis.zadd(liveKeys(prefix).byScore, 0, leadIdFor(RUN, 1));
    expect(await failed()).toContain("every lead's live state is the fold of its stored events");
  });

  it("fails when the edge accepted a retry as new", async () => {
    ledger.record(`${RUN}.h.1`, 0, "duplicate", "accepted");
    expect(await failed()).toContain("the edge never accepts one id twice");
  });
});
