// The journal's unfinished entries, and their events, are read by `_id` a bounded number at once (findByIds): a
// catch-up or a re-score may find a journal's worth of them.
import {
  type BatchJournalDocument,
  type BatchJournalIdsDocument,
  COLLECTIONS,
  type EventDocument,
} from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import { BY_ID_IN_FLIGHT } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { watchedClient } from "../../test-support/commands.ts";
import { createTestDb, createTestRedis, uniqueName } from "../../test-support/index.ts";
import { readJournalEntries } from "../src/journal.ts";
import { rematchUnfinishedBatches } from "../src/rescore-journal.ts";
import type { RescannedLead } from "../src/rescore-missed.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const AT = new Date(Date.now() - 60_000);
const ENTRIES = 8 * BY_ID_IN_FLIGHT;

/** A store whose reads of the journal and of events go through a client that counts them. */
async function setup() {
  const name = uniqueName("journal-reads");
  const testDb = await createTestDb(name);
  cleanups.push(testDb.drop);
  const read = [COLLECTIONS.batchJournal, COLLECTIONS.batchJournalIds, COLLECTIONS.events] as unknown[];
  const watched = await watchedClient(
    testDb.url,
    (command, collection) => command === "find" && read.includes(collection),
  );
  cleanups.push(watched.close);
  return { stored: testDb.db, db: watched.client.db(name), watched };
}

/** Entry `n`: its ids in `batch_journal_ids` when `n` is even, inline when odd; two events of lead `lead-<n>`. */
function entryOf(n: number) {
  return {
    _id: `entry-${String(n).padStart(3, "0")}`,
    events: [`e${n}a`, `e${n}b`],
    leads: [`lead-${n}`, `lead-${n}`],
  };
}

async function storeJournal(stored: Awaited<ReturnType<typeof setup>>["stored"]) {
  const entries = Array.from({ length: ENTRIES }, (_, n) => entryOf(n));
  await stored
    .collection<BatchJournalDocument>(COLLECTIONS.batchJournal)
    .insertMany(
      entries.map(({ _id, events, leads }, n) =>
        n % 2 === 0 ? { _id, at: AT } : { _id, at: AT, events: events.join(" "), leads: leads.join(" ") },
      ),
    );
  await stored
    .collection<BatchJournalIdsDocument>(COLLECTIONS.batchJournalIds)
    .insertMany(
      entries.flatMap(({ _id, events, leads }, n) =>
        n % 2 === 0 ? [{ _id, at: AT, events: events.join(" "), leads: leads.join(" ") }] : [],
      ),
    );
  return entries;
}

describe("reading journal entries by id", () => {
  it("keeps at most BY_ID_IN_FLIGHT reads in flight, and gives every entry back in the order asked", async () => {
    const { stored, db, watched } = await setup();
    const entries = await storeJournal(stored);
    // Asked backwards, with ids no entry has among them.
    const ids = [...entries.map((entry) => entry._id).reverse(), "entry-missing-1", "entry-missing-2"];
    const read = await readJournalEntries(db, ids);
    expect(read).toEqual(entries.reverse().map(({ _id, events, leads }) => ({ _id, at: AT, events, leads })));
    for (const { command } of watched.sent) expect(command.filter).toEqual({ _id: expect.any(String) });
    expect(watched.sent.length).toBeGreaterThan(ENTRIES);
    expect(watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
    expect(watched.mostInFlight()).toBeGreaterThan(1);
  });
});

describe("when a re-score reads the events of the journal's unfinished entries", () => {
  it("keeps at most BY_ID_IN_FLIGHT reads in flight, and finds every event stored under an older version", async () => {
    const { stored, db, watched } = await setup();
    const entries = await storeJournal(stored);
    await stored.collection<EventDocument>(COLLECTIONS.events).insertMany(
      entries.flatMap(({ events, leads }) =>
        events.map((_id, i) => ({
          _id,
          lead_id: leads[i] as string,
          event_type: "page_view",
          timestamp: AT,
          received_at: AT,
          metadata: {},
          points: 5,
          rule_id: "page_view",
          sort_key: `${AT.getTime()}|${_id}`,
        })),
      ),
    );
    const prefix = uniqueName("journal-reads");
    const redis = await createTestRedis(prefix);
    cleanups.push(redis.cleanup);
    const keys = liveKeys(prefix);
    const rematched: RescannedLead[] = [];
    const handed = await rematchUnfinishedBatches({
      db,
      redis: redis.redis,
      layouts: [{ keys }],
      version: 1,
      before: Date.now(),
      cap: 1000,
      thresholds: [100, 300, 600],
      signal: new AbortController().signal,
      rematchMissed: async (leads) => {
        rematched.push(...leads);
        return new Map();
      },
    });
    const leads = entries.map((entry) => entry.leads[0] as string);
    expect([...handed].sort()).toEqual([...leads].sort());
    const byLead = (a: { leadId: string }, b: { leadId: string }) => (a.leadId < b.leadId ? -1 : 1);
    expect(
      rematched
        .map((lead) => ({ leadId: lead.leadId, events: lead.stored.map((event) => event.event_id) }))
        .sort(byLead),
    ).toEqual(entries.map(({ leads, events }) => ({ leadId: leads[0] as string, events })).sort(byLead));
    const eventReads = watched.sent.filter(({ collection }) => collection === COLLECTIONS.events);
    expect(eventReads).toHaveLength(2 * ENTRIES);
    for (const { command } of eventReads) expect(command.filter).toEqual({ _id: expect.any(String) });
    expect(watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
    expect(watched.mostInFlight()).toBeGreaterThan(1);
  });
});
