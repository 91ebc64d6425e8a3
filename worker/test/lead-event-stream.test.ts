import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COLLECTIONS, compareEvents, type EventDocument, sortKey } from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb } from "../../test-support/index.ts";
import { type LeadEvents, streamLeadEvents } from "../src/lead-event-stream.ts";

const T0 = Date.UTC(2026, 0, 1);
const LEADS = 150;

let testDb: Awaited<ReturnType<typeof createTestDb>>;
let stored: EventDocument[];
let tmp: string;

/** Events of `LEADS` leads (lead i has i % 40 + 1 of them), inserted in an order unrelated to lead or time. */
function documents(): EventDocument[] {
  const docs: EventDocument[] = [];
  for (let lead = 0; lead < LEADS; lead += 1) {
    for (let n = 0; n <= lead % 40; n += 1) {
      // Several events share a timestamp, so the id decides their order.
      const timestamp = T0 + ((lead * 7919 + n * 104_729) % 50) * 60_000;
      const id = `e-${lead}-${(n * 37) % 101}-${n}`;
      docs.push({
        _id: id,
        lead_id: `lead-${lead}`,
        event_type: n % 3 === 0 ? "demo_request" : "page_view",
        timestamp: new Date(timestamp),
        received_at: new Date(T0 + n),
        metadata: { path: `/p/${n}`, n },
        points: n % 3 === 0 ? 50 : 5,
        rule_id: n % 3 === 0 ? "demo_request" : "page_view",
        sort_key: sortKey(timestamp, id),
      });
    }
  }
  // A deterministic shuffle, so the store's natural order is neither by lead nor by time.
  return docs
    .map((doc, i) => ({ doc, k: (i * 2_654_435_761) % 4_294_967_296 }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.doc);
}

async function collect(stream: AsyncIterable<LeadEvents>): Promise<LeadEvents[]> {
  const leads: LeadEvents[] = [];
  for await (const lead of stream) leads.push(lead);
  return leads;
}

beforeAll(async () => {
  testDb = await createTestDb();
  stored = documents();
  await testDb.db.collection<EventDocument>(COLLECTIONS.events).insertMany(stored);
  tmp = await mkdtemp(join(tmpdir(), "lead-event-stream-test-"));
});

afterAll(async () => {
  await testDb?.drop();
  await rm(tmp, { recursive: true, force: true });
});

describe("streaming every stored event by lead", () => {
  it("gives each lead once with all its events in event-time order", async () => {
    const reads: Array<[number, boolean]> = [];
    const leads = await collect(
      streamLeadEvents(testDb.db, { tmpDir: tmp, buckets: 4, onRead: (n, done) => reads.push([n, done]) }),
    );
    expect(leads.map((lead) => lead.leadId).sort()).toEqual(
      Array.from({ length: LEADS }, (_, i) => `lead-${i}`).sort(),
    );
    for (const lead of leads) {
      const expected = stored
        .filter((doc) => doc.lead_id === lead.leadId)
        .map((doc) => ({ event_id: doc._id, timestamp: doc.timestamp.getTime(), points: doc.points }))
        .sort(compareEvents);
      expect(lead.events.map((e) => ({ event_id: e.event_id, timestamp: e.timestamp, points: e.points }))).toEqual(
        expected,
      );
      expect(lead.events.every((e) => e.lead_id === lead.leadId && e.metadata === undefined)).toBe(true);
    }
    expect(reads.at(-1)).toEqual([stored.length, true]);
    expect(await readdir(tmp)).toEqual([]);
  });

  it("carries the metadata when asked", async () => {
    const leads = await collect(streamLeadEvents(testDb.db, { tmpDir: tmp, metadata: true }));
    const lead = leads.find((l) => l.leadId === "lead-39") as LeadEvents;
    expect(lead.events).toHaveLength(40);
    const byId = new Map(stored.map((doc) => [doc._id, doc.metadata]));
    expect(lead.events.every((e) => JSON.stringify(e.metadata) === JSON.stringify(byId.get(e.event_id)))).toBe(true);
  });

  it("splits a bucket over the bound again, so none read into memory exceeds it", async () => {
    const maxBucketBytes = 16 * 1024;
    const buckets: Array<{ bytes: number; events: number }> = [];
    const leads = await collect(
      streamLeadEvents(testDb.db, { tmpDir: tmp, buckets: 2, maxBucketBytes, onBucket: (b) => buckets.push(b) }),
    );
    // The two first buckets hold ~half the events each, far over the bound: only splits can give these.
    expect(buckets.length).toBeGreaterThan(2 * 10);
    expect(Math.max(...buckets.map((b) => b.bytes))).toBeLessThanOrEqual(maxBucketBytes);
    expect(buckets.reduce((sum, b) => sum + b.events, 0)).toBe(stored.length);
    expect(new Set(leads.map((l) => l.leadId)).size).toBe(LEADS);
    expect(leads.reduce((sum, l) => sum + l.events.length, 0)).toBe(stored.length);
  });

  it("removes its temporary files when the reader stops early", async () => {
    let seen = 0;
    for await (const _lead of streamLeadEvents(testDb.db, { tmpDir: tmp, buckets: 8 })) {
      seen += 1;
      expect((await readdir(tmp)).length).toBe(1);
      if (seen === 3) break;
    }
    expect(seen).toBe(3);
    expect(await readdir(tmp)).toEqual([]);
  });

  it("stops with the signal's reason when aborted", async () => {
    const controller = new AbortController();
    const run = async () => {
      for await (const _lead of streamLeadEvents(testDb.db, { tmpDir: tmp, signal: controller.signal })) {
        controller.abort(new Error("cancelled"));
      }
    };
    await expect(run()).rejects.toThrow("cancelled");
    expect(await readdir(tmp)).toEqual([]);
  });
});

describe("streaming a lead whose events exceed the bound, in pieces", () => {
  let whaleDb: Awaited<ReturnType<typeof createTestDb>>;
  let whaleDocs: EventDocument[];
  const WHALE = 3_000;

  beforeAll(async () => {
    whaleDb = await createTestDb();
    // One lead far over a 16 KiB bucket (~150 bytes an event), and small leads beside it.
    whaleDocs = [...documents().filter((doc) => Number(doc.lead_id.slice(5)) < 30)];
    for (let n = 0; n < WHALE; n += 1) {
      const timestamp = T0 + ((n * 104_729) % 997) * 60_000;
      const id = `w-${(n * 37) % 101}-${n}`;
      whaleDocs.push({
        _id: id,
        lead_id: "whale",
        event_type: "page_view",
        timestamp: new Date(timestamp),
        received_at: new Date(T0 + n),
        metadata: {},
        points: 5,
        rule_id: "page_view",
        sort_key: sortKey(timestamp, id),
      });
    }
    await whaleDb.db.collection<EventDocument>(COLLECTIONS.events).insertMany(whaleDocs);
  });

  afterAll(async () => {
    await whaleDb?.drop();
  });

  it("gives every lead's events in order, in consecutive pieces within the bound, sorting the whale on disk", async () => {
    const maxBucketBytes = 16 * 1024;
    const pieceEvents = 100;
    const buckets: Array<{ bytes: number; events: number }> = [];
    const pieces = await collect(
      streamLeadEvents(whaleDb.db, {
        tmpDir: tmp,
        buckets: 2,
        maxBucketBytes,
        pieceEvents,
        onBucket: (b) => buckets.push(b),
      }),
    );
    // Whole leads, and pieces of one lead one after the other, the last with `more: false`.
    const leads = new Map<string, LeadEvents["events"]>();
    for (const [i, piece] of pieces.entries()) {
      expect(piece.events.length).toBeLessThanOrEqual(pieceEvents);
      expect(leads.has(piece.leadId) && pieces[i - 1]?.more !== true, piece.leadId).toBe(false);
      leads.set(piece.leadId, [...(leads.get(piece.leadId) ?? []), ...piece.events]);
      if (piece.more) expect(pieces[i + 1]?.leadId).toBe(piece.leadId);
    }
    const whalePieces = pieces.filter((piece) => piece.leadId === "whale");
    expect(whalePieces.length).toBe(WHALE / pieceEvents);
    expect(whalePieces.map((piece) => piece.more)).toEqual([...Array(WHALE / pieceEvents - 1).fill(true), false]);
    for (const [leadId, events] of leads) {
      const expected = whaleDocs
        .filter((doc) => doc.lead_id === leadId)
        .map((doc) => ({ event_id: doc._id, timestamp: doc.timestamp.getTime() }))
        .sort(compareEvents);
      expect(events.map((e) => ({ event_id: e.event_id, timestamp: e.timestamp }))).toEqual(expected);
    }
    expect([...leads.values()].reduce((sum, events) => sum + events.length, 0)).toBe(whaleDocs.length);
    // Nothing read into memory at once over the bound: the whale's ~450 KiB came as sorted runs.
    expect(Math.max(...buckets.map((b) => b.bytes))).toBeLessThanOrEqual(maxBucketBytes);
    expect(await readdir(tmp)).toEqual([]);
  });
});
