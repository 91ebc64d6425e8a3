// What retroactive re-scores stored for the leads a rebuild or a rescan folds is read by `_id` a bounded number at once
// (findByIds): a rebuild reads it for a chunk of leads under every retroactive version.
import {
  COLLECTIONS,
  type EventDocument,
  encodeRescoredEvents,
  type RescoredCandidatesDocument,
  type RuleSet,
  type RuleSetDocument,
  rescoredCandidatesId,
  rescoredEventId,
  type ScorableEvent,
  withRescoredCandidates,
} from "@leadscore/contracts";
import { BY_ID_IN_FLIGHT } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { type WatchedClient, watchedClient } from "../../test-support/commands.ts";
import { createTestDb, uniqueName } from "../../test-support/index.ts";
import { createMissedRematcher } from "../src/rescore-missed.ts";
import { readRescored, withMissedRescored } from "../src/rescored.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LEADS = Array.from({ length: 10 * BY_ID_IN_FLIGHT }, (_, n) => `lead-${n}`);
const AT = Date.now() - 60_000;

/** A store whose reads of `rescored_candidates` and `events` go through a client that counts them. */
async function setup() {
  const name = uniqueName("rescored-reads");
  const testDb = await createTestDb(name);
  cleanups.push(testDb.drop);
  const read: unknown[] = [COLLECTIONS.rescoredCandidates, COLLECTIONS.events];
  const watched = await watchedClient(
    testDb.url,
    (command, collection) => command === "find" && read.includes(collection),
  );
  cleanups.push(watched.close);
  const stored = testDb.db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates);
  return { stored, storedDb: testDb.db, db: watched.client.db(name), watched };
}

/** `count` reads sent, each one `_id` equality, at most BY_ID_IN_FLIGHT (and more than one) in flight at once. */
function expectBoundedReads(watched: WatchedClient, count: number) {
  expect(watched.sent).toHaveLength(count);
  for (const { command } of watched.sent) expect(command.filter).toEqual({ _id: expect.any(String) });
  expect(watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
  expect(watched.mostInFlight()).toBeGreaterThan(1);
}

function eventOf(leadId: string): ScorableEvent {
  return {
    event_id: `${leadId}-e`,
    lead_id: leadId,
    event_type: "page_view",
    timestamp: AT,
    received_at: AT,
    points: 5,
    rule_id: "page_view",
  };
}

describe("reading the candidates re-scores stored for many leads", () => {
  it("keeps at most BY_ID_IN_FLIGHT reads in flight, and gives each lead its documents and its merged ids'", async () => {
    const { stored, db, watched } = await setup();
    const doc = (version: number, leadId: string): RescoredCandidatesDocument => ({
      _id: rescoredCandidatesId(version, leadId),
      version,
      lead_id: leadId,
      at: new Date(AT),
      events: "[]",
    });
    // Version 2 re-scored every other lead; `merged-0` was merged into lead-0 after version 1 re-scored it.
    await stored.insertMany([
      ...LEADS.map((lead) => doc(1, lead)),
      ...LEADS.filter((_, n) => n % 2 === 0).map((lead) => doc(2, lead)),
      doc(1, "merged-0"),
    ]);
    const merged = (leadId: string) => (leadId === "lead-0" ? ["merged-0"] : []);
    const read = await readRescored(db, LEADS, [1, 2], merged);
    expect([...read].map(([lead, docs]) => [lead, docs.map((one) => one._id)])).toEqual(
      LEADS.map((lead, n) => [
        lead,
        [`1:${lead}`, ...(n % 2 === 0 ? [`2:${lead}`] : []), ...(n === 0 ? ["1:merged-0"] : [])],
      ]),
    );
    expectBoundedReads(watched, 2 * (LEADS.length + 1));
  });
});

describe("looking for the events a re-score missed among many leads' events", () => {
  it("keeps at most BY_ID_IN_FLIGHT reads in flight, and gives each event found its re-matched candidates", async () => {
    const { stored, db, watched } = await setup();
    // Every other lead's event was missed by version 1's re-score and matched again on its own.
    const missed = LEADS.filter((_, n) => n % 2 === 0).map((lead) =>
      withRescoredCandidates(eventOf(lead), [{ rule_id: "page_view", points: 7 }], 1),
    );
    await stored.insertMany(
      missed.map((event) => ({
        _id: rescoredEventId(1, event.event_id),
        version: 1,
        lead_id: event.lead_id,
        at: new Date(AT),
        events: encodeRescoredEvents([event]),
      })),
    );
    const events = new Map(LEADS.map((lead) => [lead, [eventOf(lead)]]));
    const read = await withMissedRescored(db, events, [1]);
    expect([...read].map(([lead, list]) => [lead, list.map((event) => [event.points, event.rules_version])])).toEqual(
      LEADS.map((lead, n) => [lead, [n % 2 === 0 ? [7, 1] : [5, undefined]]]),
    );
    expectBoundedReads(watched, LEADS.length);
  });
});

describe("when a rescan matches again the events of many leads a re-score missed", () => {
  it("reads their metadata, and then the copies stored before, at most BY_ID_IN_FLIGHT at once", async () => {
    const { storedDb, db, watched } = await setup();
    const set: RuleSet = {
      version: 1,
      groups: [],
      rules: [
        {
          _id: "ads",
          label: "From ads",
          event_type: "page_view",
          points: 70,
          active: true,
          where: { field: "metadata.channel", op: "eq", value: "ads" },
        },
      ],
    };
    await storedDb
      .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
      .insertOne({ _id: 1, set: JSON.stringify(set), by: "test", at: new Date(AT), mode: "retroactive" });
    // Every other lead's event came from ads.
    await storedDb.collection<EventDocument>(COLLECTIONS.events).insertMany(
      LEADS.map((lead, n) => {
        const { event_id, lead_id, event_type, points, rule_id } = eventOf(lead);
        const at = new Date(AT);
        const metadata = { channel: n % 2 === 0 ? "ads" : "seo" };
        return {
          _id: event_id,
          lead_id,
          event_type,
          points,
          rule_id,
          timestamp: at,
          received_at: at,
          metadata,
          sort_key: "",
        };
      }),
    );
    const leads = LEADS.map((lead) => ({
      leadId: lead,
      stored: [eventOf(lead)],
      held: new Set<string>(),
      profile: null,
    }));
    const rematch = createMissedRematcher({ db });
    const expected = LEADS.map((lead, n) => [lead, [n % 2 === 0 ? 70 : 0]]);
    const points = (result: Map<string, ScorableEvent[]>) =>
      [...result].map(([lead, list]) => [lead, list.map((event) => event.points)]);
    expect(points(await rematch(leads, async () => undefined))).toEqual(expected);
    // One read of each event's metadata.
    expectBoundedReads(watched, LEADS.length);
    // Again: every copy is stored already, and read back.
    watched.sent.length = 0;
    expect(points(await rematch(leads, async () => undefined))).toEqual(expected);
    expectBoundedReads(watched, 2 * LEADS.length);
    expect(watched.sent.filter(({ collection }) => collection === COLLECTIONS.rescoredCandidates)).toHaveLength(
      LEADS.length,
    );
  });
});
