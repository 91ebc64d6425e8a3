// History pages no lead names any more are retired and then deleted by `_id` (page-garbage.ts); a page written again
// with the same content keeps its id (page-id.ts). The audit counts stored pages against those the live state names.
import { COLLECTIONS, type EventDocument, type HistoryPageDocument, keyOf } from "@leadscore/contracts";
import { encodeEvent } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, rebuildOptionsOf, T0, type TestStack } from "../../test-support/worker-stack.ts";
import { createDeepLane } from "../src/deep-lane.ts";
import { createWorkerMetrics } from "../src/metrics.ts";
import { RETIRED_GRACE_MS, retirePages, sweepRetiredPages } from "../src/page-garbage.ts";
import { rebuildLiveState } from "../src/rebuild.ts";

let stack: TestStack | undefined;
const clients: Redis[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await stack?.close();
  stack = undefined;
});

/** Leads with pages in MongoDB, scored by a worker that is then stopped (so no sweep or deep lane of its own runs). */
async function leadsWithPages() {
  const current = await createStack();
  stack = current;
  const worker = await current.startWorker();
  const events = ["a", "b", "c"].flatMap((lead) =>
    Array.from({ length: 230 }, (_, i) => queued(lead, `${lead}${i}`, "page_view", T0 + 1_000 * (i + 1))),
  );
  await current.send(events);
  await current.drained();
  await worker.close();
  const redis = new Redis(REDIS_URL);
  clients.push(redis);
  const options = rebuildOptionsOf(current, redis);
  const { keys } = options;
  const audit = () => auditLiveState({ ...options, redisPrefix: current.config.REDIS_PREFIX });
  const storedPages = () => current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages).countDocuments({});
  const sweepAfterGrace = () =>
    sweepRetiredPages({ db: current.db, redis, keys, now: () => Date.now() + RETIRED_GRACE_MS + 1 });
  /** Stores an event of lead "a" older than all its others and has a deep lane fold it; resolves with the leads folded. */
  const foldLateEvent = async () => {
    const late = { ...queued("a", "a-late", "purchase", T0 + 500), points: 100, rule_id: "purchase" };
    const { event_id, timestamp, received_at, ...rest } = late;
    await current.db.collection<EventDocument>(COLLECTIONS.events).insertOne({
      ...rest,
      _id: event_id,
      timestamp: new Date(timestamp),
      received_at: new Date(received_at),
      sort_key: keyOf(late),
    });
    await redis.rpush(keys.deepEvents("a"), JSON.stringify(encodeEvent(late)));
    await redis.hset(keys.deep, "a", "0");
    const generation = (await redis.get(keys.gen)) as string;
    const lane = createDeepLane({ ...options, generation: () => generation, encodeUpdates: () => new Map() });
    try {
      return await lane.runOnce();
    } finally {
      await lane.stop();
    }
  };
  return { current, redis, keys, options, audit, storedPages, sweepAfterGrace, foldLateEvent };
}

describe("when a late event makes the deep lane write a lead's pages anew", () => {
  it("retires the pages it superseded and the sweep deletes them after their grace", async () => {
    const { redis, keys, options, audit, storedPages, sweepAfterGrace, foldLateEvent } = await leadsWithPages();
    const before = await audit();
    expect(before.problems).toEqual([]);
    expect(before.pages).toEqual({ stored: 9, referenced: 9, retired: 0 });

    // Older than every entry of lead "a": each of its three pages is written anew.
    expect(await foldLateEvent()).toBe(1);

    const after = await audit();
    expect(after.problems).toEqual([]);
    expect(after.pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
    // Within their grace, a read that took the old page list still finds them.
    expect(await sweepRetiredPages({ db: options.db, redis, keys })).toBe(0);
    expect(await storedPages()).toBe(12);
    // A sweep out of time deletes nothing and leaves every due page for the next one.
    const late = () => Date.now() + RETIRED_GRACE_MS + 1;
    expect(await sweepRetiredPages({ db: options.db, redis, keys, now: late, budgetMs: 0 })).toBe(0);
    expect((await audit()).pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
    expect(await sweepAfterGrace()).toBe(3);
    expect((await audit()).pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
  }, 120_000);
});

describe("when the live state is rebuilt", () => {
  it("keeps the ids of pages laid out as stored and retires the others", async () => {
    const { options, audit, storedPages, sweepAfterGrace, foldLateEvent } = await leadsWithPages();
    // Lead "a" gets a late event: its pages differ from what a rebuild lays out (the first grew past PAGE_SIZE).
    await foldLateEvent();
    await sweepAfterGrace();
    expect(await storedPages()).toBe(9);

    const progress = { running: false, eventsRead: 0, leadsWritten: 0 };
    const metrics = createWorkerMetrics();
    metrics.watchRebuild(progress);
    await rebuildLiveState({ ...options, progress });
    // Its progress, as /metrics shows it: every stored event read, every lead written, and no longer running.
    expect(progress).toEqual({ running: false, eventsRead: 3 * 230 + 1, leadsWritten: 3 });
    expect(metrics.render()).toContain("leadscore_worker_rebuild_events_read 691");
    expect(metrics.render()).toContain("leadscore_worker_rebuild_leads_written 3");
    const rebuilt = await audit();
    expect(rebuilt.problems).toEqual([]);
    // Leads "b" and "c" kept their six pages (same content, same ids); "a"'s three were laid out anew.
    expect(rebuilt.pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
    expect(await sweepAfterGrace()).toBe(3);
    expect((await audit()).pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
  }, 120_000);
});

describe("the audit", () => {
  it("finds more pages stored than named and retired, beyond the ratio", async () => {
    const { current, redis, keys, audit } = await leadsWithPages();
    const orphan = (n: number): HistoryPageDocument => ({
      _id: `a|orphan-${n}`,
      lead_id: "a",
      n: 0,
      entries: "[]",
      written_at: new Date(),
    });
    const pages = current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
    // Retired: awaiting deletion, not garbage.
    await pages.insertOne(orphan(1));
    await retirePages(redis, keys, ["a|orphan-1"]);
    expect((await audit()).problems).toEqual([]);
    // Neither named nor retired: 10 stored for 9 named is past 1.1×.
    await pages.insertOne(orphan(2));
    expect((await audit()).problems).toEqual([
      "history_pages holds 11 pages (1 retired), the live state names 9: more than 1.1× not retired",
    ]);
  }, 120_000);
});
