// A chunk of leads read from the live state (`readLiveLeads`: what a preview streams and a re-score folds) sends its
// MongoDB reads — idle leads' archives, every lead's settled pages — a bounded number at once, however many leads and
// pages the chunk holds, and reads the same leads as one lead at a time.
import { COLLECTIONS, type QueuedEvent } from "@leadscore/contracts";
import { IDLE_COLLECTION, IDLE_MARK, liveKeys, shrinkIdleLeads } from "@leadscore/live";
import { BY_ID_IN_FLIGHT } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { watchedClientsPerTest } from "../../test-support/commands.ts";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, T0, type TestStack } from "../../test-support/worker-stack.ts";
import { type LiveLeadEvents, readLiveLeads } from "../src/live-lead-stream.ts";

const MINUTE = 60_000;
/** Long leads hold two settled pages each (150 events: the tail spilled 50 twice), short ones none. */
const LONG = 150;
const leadsOf = (label: string, count: number) =>
  Array.from({ length: count }, (_, n) => `${label}-${String(n).padStart(2, "0")}`);
/** Idle by the time they are read: read through their archive. */
const IDLE = [...leadsOf("idle-long", BY_ID_IN_FLIGHT), ...leadsOf("idle-short", 4)];
const BUSY = [...leadsOf("busy-long", BY_ID_IN_FLIGHT), ...leadsOf("busy-short", 4)];

function eventsOf(leadId: string): QueuedEvent[] {
  const count = leadId.includes("long") ? LONG : 3;
  const types = ["page_view", "email_open", "small"];
  return Array.from({ length: count }, (_, n) =>
    queued(leadId, `${leadId}-${String(n).padStart(3, "0")}`, types[n % types.length] as string, T0 + n * MINUTE),
  );
}

/** What a caller takes of a lead read: its id, its events' ids in order, its profile. */
const shown = ({ leadId, events, profile }: LiveLeadEvents) => ({
  leadId,
  events: events.map((event) => event.event_id),
  profile,
});

describe("when a chunk of many leads with settled pages, some idle, is read from the live state", () => {
  let stack: TestStack;
  let redis: Redis;
  const watchedClient = watchedClientsPerTest();
  /** A client of the stack's database whose reads of pages and archives are counted, a connection open for each. */
  async function watchedDb() {
    const read: unknown[] = [COLLECTIONS.historyPages, IDLE_COLLECTION];
    const watched = await watchedClient(
      stack.env.MONGO_URL as string,
      (command, collection) => command === "find" && read.includes(collection),
      // As many connections as the reads of a chunk: what bounds them is the reader, not the pool.
      { open: IDLE.length + 4 * BY_ID_IN_FLIGHT },
    );
    return { watched, db: watched.client.db(stack.db.databaseName) };
  }

  beforeAll(async () => {
    stack = await createStack();
    redis = new Redis(REDIS_URL);
    await stack.startWorker();
    await stack.send(IDLE.flatMap(eventsOf));
    await stack.drained();
    // Only the leads committed before the cutoff are idle.
    const cutoff = Date.now() + 1;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await stack.send(BUSY.flatMap(eventsOf));
    await stack.drained();
    // Nothing moves the leads while they are read.
    await Promise.all(stack.workers.map((worker) => worker.close()));
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const shrunk = await shrinkIdleLeads({ redis, db: stack.db, keys, idleMs: 1000, now: () => cutoff + 1000 });
    expect(shrunk).toBe(IDLE.length);
  }, 120_000);
  afterAll(async () => {
    redis.disconnect();
    await stack.close();
  });

  // One test: the tests of a file run in a shuffled order, and the restoring read gives the idle leads their fields.
  it("keeps at most BY_ID_IN_FLIGHT reads in flight, and reads every lead as one lead at a time does, in order", async () => {
    const keys = liveKeys(stack.config.REDIS_PREFIX);
    const read = { cap: stack.config.SCORE_CAP, thresholds: stack.config.STAGE_THRESHOLDS };
    // Idle and busy leads interleaved, and a lead with no live state among them.
    const ids = IDLE.flatMap((id, n) => [id, BUSY[n] as string]);
    ids.splice(5, 0, "no-such-lead");
    const alone: LiveLeadEvents[] = [];
    for (const id of ids) alone.push(...(await readLiveLeads(redis, stack.db, keys, [id], read)));
    expect(alone.map(shown)).toEqual(
      ids
        .filter((id) => id !== "no-such-lead")
        .map((leadId) => ({
          leadId,
          events: eventsOf(leadId).map((event) => event.event_id),
          profile: { name: null, email: null, company: null },
        })),
    );
    const pages = alone.reduce((sum, { lead }) => sum + lead.pages.length, 0);
    expect(pages).toBe(4 * BY_ID_IN_FLIGHT);

    const plain = await watchedDb();
    expect(await readLiveLeads(redis, plain.db, keys, ids, read)).toEqual(alone);
    // One read of each idle lead's archive, one of each page.
    expect(plain.watched.sent).toHaveLength(IDLE.length + pages);
    for (const { command } of plain.watched.sent) expect(command.filter).toEqual({ _id: expect.any(String) });
    expect(plain.watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
    expect(plain.watched.mostInFlight()).toBeGreaterThan(1);
    expect(await redis.hexists(keys.lead(IDLE[0] as string), IDLE_MARK)).toBe(1);

    // A caller that will commit the leads has the idle ones given their fields back first: their archives read once.
    const restoring = await watchedDb();
    const restored = await readLiveLeads(redis, restoring.db, keys, ids, { ...read, restoreIdle: true });
    expect(restored.map(shown)).toEqual(alone.map(shown));
    expect(restoring.watched.sent).toHaveLength(IDLE.length + pages);
    expect(restoring.watched.mostInFlight()).toBeLessThanOrEqual(BY_ID_IN_FLIGHT);
    expect(restoring.watched.mostInFlight()).toBeGreaterThan(1);
    for (const id of IDLE) expect(await redis.hexists(keys.lead(id), IDLE_MARK)).toBe(0);
  }, 60_000);
});
