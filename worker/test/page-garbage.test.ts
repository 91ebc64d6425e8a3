// History pages no lead names any more are retired and then deleted by `_id` (page-garbage.ts); a page written again
// with the same content keeps its id (page-id.ts). The audit counts stored pages against those the live state names.
import { COLLECTIONS, type EventDocument, type HistoryPageDocument, keyOf, type RuleSet } from "@leadscore/contracts";
import { decodePageRefs, encodeEvent, encodePageRef, leadHashField, type PageRef } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { watchedClient } from "../../test-support/commands.ts";
import { REDIS_URL } from "../../test-support/index.ts";
import { createStack, queued, rebuildOptionsOf, T0, type TestStack } from "../../test-support/worker-stack.ts";
import { createDeepLane } from "../src/deep-lane.ts";
import { createWorkerMetrics } from "../src/metrics.ts";
import {
  dropPendingPages,
  holdPages,
  RETIRED_GRACE_MS,
  releasePages,
  retirePages,
  SWEEP_BATCH,
  sweepRetiredPages,
} from "../src/page-garbage.ts";
import { rebuildLiveState } from "../src/rebuild.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import { createScorer } from "../src/scorer.ts";
import { insertNew } from "../src/store.ts";
import { random } from "./random-events.ts";

const RULES = ruleMatcher({
  version: 1,
  groups: [],
  rules: [{ _id: "page_view", label: "Page view", event_type: "page_view", points: 5, active: true }],
} satisfies RuleSet);

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
  /** Sweeps past the grace, deleting `deleted` pages, and audits: no problem, `named` pages stored and named. */
  const expectSwept = async (deleted: number, named: number) => {
    expect(await sweepAfterGrace()).toBe(deleted);
    const swept = await audit();
    expect([...swept.problems, ...swept.pageProblems]).toEqual([]);
    expect(swept.pages).toEqual({ stored: named, referenced: named, retired: 0 });
  };
  return { current, redis, keys, options, audit, storedPages, sweepAfterGrace, expectSwept, foldLateEvent };
}

describe("when a late event makes the deep lane write a lead's pages anew", () => {
  it("retires the pages it superseded and the sweep deletes them after their grace", async () => {
    const { redis, keys, options, audit, storedPages, expectSwept, foldLateEvent } = await leadsWithPages();
    const before = await audit();
    expect(before.problems).toEqual([]);
    expect(before.pages).toEqual({ stored: 9, referenced: 9, retired: 0 });

    // Older than every entry of lead "a": each of its three pages is written anew.
    expect(await foldLateEvent()).toBe(1);

    // Retired pages are stored until the sweep deletes them: 12 for 9 named is past the audit's 1.1×.
    const after = await audit();
    expect(after.problems).toEqual([]);
    expect(after.pageProblems).toEqual([
      "history_pages holds 12 pages (3 retired, awaiting deletion), the live state names 9: more than 1.1×",
    ]);
    expect(after.pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
    // Within their grace, a read that took the old page list still finds them.
    expect(await sweepRetiredPages({ db: options.db, redis, keys })).toBe(0);
    expect(await storedPages()).toBe(12);
    // A sweep out of time deletes nothing and leaves every due page for the next one.
    const late = () => Date.now() + RETIRED_GRACE_MS + 1;
    expect(await sweepRetiredPages({ db: options.db, redis, keys, now: late, budgetMs: 0 })).toBe(0);
    expect((await audit()).pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
    await expectSwept(3, 9);
  }, 120_000);
});

describe("when a commit that spilled a page loses its compare-and-set", () => {
  it("writes the page only for the commit that won, and leaves no retired page", async () => {
    const { current, redis, keys, options, audit, storedPages, expectSwept } = await leadsWithPages();
    const generation = (await redis.get(keys.gen)) as string;
    const writer = { ...options, generation: () => generation, encodeUpdates: () => new Map() };
    // Lead "a" holds 150 entries in pages and 80 in its tail: 20 more spill its fourth page.
    const spilling = Array.from({ length: 20 }, (_, i) =>
      queued("a", `a-next${i}`, "page_view", T0 + 1_000 * (231 + i)),
    );
    // The rival's event lands among the entries that page holds, so the page planned first is not the one kept.
    const rival = queued("a", "a-rival", "page_view", T0 + 1_000 * 160 + 500);
    const rivalScorer = createScorer({ ...writer, rules: () => RULES });
    const rivalCommits = [() => rivalScorer.scoreBatch([rival])];
    // The rival commits once, between the batch's plan and its commit.
    const beforeCommit = async () => void (await rivalCommits.shift()?.());
    const result = await createScorer({ ...writer, rules: () => RULES, beforeCommit }).scoreBatch(spilling);
    expect(result.retries).toBe(1);

    // Only the page of the commit that won is stored; the lost one was only held in Redis, and its copy is dropped at
    // once, not left to the sweep.
    const lost = await audit();
    expect([...lost.problems, ...lost.pageProblems]).toEqual([]);
    expect(lost.pages).toEqual({ stored: 10, referenced: 10, retired: 0 });
    expect(await redis.hlen(keys.pendingPages)).toBe(0);
    await expectSwept(0, 10);
    expect(await redis.hlen(keys.pendingPages)).toBe(0);
    expect(await storedPages()).toBe(10);
    expect((await current.db.collection(COLLECTIONS.events).countDocuments({ lead_id: "a" })).valueOf()).toBe(251);
  }, 120_000);
});

describe("when the deep lane's refold loses its compare-and-set", () => {
  it("stores none of the pages it laid out, drops their copies at once and retires nothing", async () => {
    const { redis, keys, options, audit, storedPages, expectSwept } = await leadsWithPages();
    const stored = await storedPages();
    const late = { ...queued("a", "a-late", "purchase", T0 + 500), points: 100, rule_id: "purchase" };
    await redis.rpush(keys.deepEvents("a"), JSON.stringify(encodeEvent(late)));
    await redis.hset(keys.deep, "a", "0");
    const generation = (await redis.get(keys.gen)) as string;
    let heldBeforeCommit = 0;
    // A rival commit of lead "a" (its version moved) between the pass's plan and its commit.
    const beforeCommit = async () => {
      heldBeforeCommit = await redis.hlen(keys.pendingPages);
      expect(await storedPages()).toBe(stored);
      await redis.hincrby(keys.lead("a"), leadHashField("version"), 1);
    };
    const lane = createDeepLane({
      ...options,
      generation: () => generation,
      encodeUpdates: () => new Map(),
      beforeCommit,
    });
    try {
      expect(await lane.runOnce()).toBe(1);
    } finally {
      await lane.stop();
    }
    // Its three pages were held in Redis only, and their copies are gone with the commit that lost.
    expect(heldBeforeCommit).toBe(3);
    expect(await redis.hlen(keys.pendingPages)).toBe(0);
    expect(await redis.zcard(keys.retiredPages)).toBe(0);
    expect(await storedPages()).toBe(stored);
    const after = await audit();
    expect(after.pageProblems).toEqual([]);
    expect(after.pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
    await expectSwept(0, 9);
  }, 120_000);

  it("stores the pages once its commit lands", async () => {
    const { redis, keys, audit, storedPages, foldLateEvent } = await leadsWithPages();
    expect(await foldLateEvent()).toBe(1);
    expect(await redis.hlen(keys.pendingPages)).toBe(0);
    expect(await storedPages()).toBe(12);
    expect((await audit()).pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
  }, 120_000);
});

describe("a writer's copy of a page", () => {
  it("is dropped for a commit that did not land unless a lead names the page or another writer holds it since", async () => {
    const { current, redis, keys } = await leadsWithPages();
    const pages = current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
    const named = decodePageRefs(await redis.hget(keys.lead("a"), leadHashField("pages")))[0] as PageRef;
    const namedDoc = (await pages.findOne({ _id: named.id })) as HistoryPageDocument;
    const unnamed = { ...namedDoc, _id: `${named.id}x`, written_at: new Date(T0) };
    const rival = { ...namedDoc, _id: `${named.id}y`, written_at: new Date(T0) };
    await holdPages(redis, keys, [namedDoc, unnamed, rival]);
    // Another writer holds the same content since, at its own time.
    await holdPages(redis, keys, [{ ...rival, written_at: new Date(T0 + 1) }]);
    expect(await dropPendingPages(redis, keys, [namedDoc, unnamed, rival])).toBe(1);
    expect((await redis.hkeys(keys.pendingPages)).sort()).toEqual([named.id, rival._id].sort());
  }, 120_000);
});

describe("when a commit that spilled a page finds its lead owned by the deep lane", () => {
  it("writes no page; the deep lane folds the events and writes the page it names", async () => {
    const { redis, keys, options, audit, storedPages, expectSwept } = await leadsWithPages();
    const generation = (await redis.get(keys.gen)) as string;
    const writer = { ...options, generation: () => generation, encodeUpdates: () => new Map() };
    const spilling = Array.from({ length: 20 }, (_, i) =>
      queued("a", `a-next${i}`, "page_view", T0 + 1_000 * (231 + i)),
    );
    // The deep lane takes the lead between the batch's plan and its commit: the commit hands it the events.
    const beforeCommit = async () => void (await redis.hset(keys.deep, "a", "0"));
    const result = await createScorer({ ...writer, rules: () => RULES, beforeCommit }).scoreBatch(spilling);
    expect(result.updates).toEqual([]);
    expect((await audit()).pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
    expect(await storedPages()).toBe(9);

    const lane = createDeepLane(writer);
    try {
      expect(await lane.runOnce()).toBe(1);
    } finally {
      await lane.stop();
    }
    const folded = await audit();
    expect([...folded.problems, ...folded.pageProblems]).toEqual([]);
    expect(folded.pages).toEqual({ stored: 10, referenced: 10, retired: 0 });
    await expectSwept(0, 10);
    expect(await redis.hlen(keys.pendingPages)).toBe(0);
  }, 120_000);
});

describe("when the live state is rebuilt", () => {
  /** Lead "a" with a late event folded by the deep lane: its first page grew past PAGE_SIZE, a layout a rebuild from
   * scratch does not give. */
  async function refoldedLeads() {
    const fixture = await leadsWithPages();
    await fixture.foldLateEvent();
    await fixture.sweepAfterGrace();
    expect(await fixture.storedPages()).toBe(9);
    return fixture;
  }

  it("lays every lead out as its pages were, so it names the pages stored and writes none", async () => {
    const { options, audit, expectSwept } = await refoldedLeads();
    const progress = { running: false, eventsRead: 0, leadsWritten: 0 };
    const metrics = createWorkerMetrics();
    metrics.watchRebuild(progress);
    await rebuildLiveState({ ...options, progress });
    // Its progress, as /metrics shows it: every stored event read, every lead written, and no longer running.
    expect(progress).toEqual({ running: false, eventsRead: 3 * 230 + 1, leadsWritten: 3 });
    expect(metrics.render()).toContain("leadscore_worker_rebuild_events_read 691");
    expect(metrics.render()).toContain("leadscore_worker_rebuild_leads_written 3");
    const rebuilt = await audit();
    expect([...rebuilt.problems, ...rebuilt.pageProblems]).toEqual([]);
    expect(rebuilt.pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
    await expectSwept(0, 9);
  }, 120_000);

  it("lays a lead whose live keys are gone out anew and retires the pages it no longer names", async () => {
    const { redis, keys, options, audit, expectSwept } = await refoldedLeads();
    await redis.del(keys.lead("a"));
    await rebuildLiveState(options);
    // Leads "b" and "c" kept their six pages; "a"'s three were laid out in pages of PAGE_SIZE, and the three they
    // replace are stored until the sweep.
    const rebuilt = await audit();
    expect(rebuilt.problems).toEqual([]);
    expect(rebuilt.pages).toEqual({ stored: 12, referenced: 9, retired: 3 });
    await expectSwept(3, 9);
  }, 120_000);
});

describe("when the live state is rebuilt after a realistic workload", () => {
  /** Rules with a daily limit, a lifetime limit per metadata key and a group max, beside plain ones. */
  const V2_RULES = ruleMatcher({
    version: 2,
    groups: [{ _id: "web", label: "Web", max: 300 }],
    rules: [
      { _id: "page_view", label: "Page view", event_type: "page_view", points: 5, active: true, group: "web" },
      {
        _id: "pricing",
        label: "Pricing",
        event_type: "page_view",
        points: 20,
        active: true,
        where: { field: "metadata.path", op: "eq", value: "/pricing" },
        limit: { max: 2, per: "day" },
        group: "web",
      },
      {
        _id: "email_open",
        label: "Email open",
        event_type: "email_open",
        points: 10,
        active: true,
        limit: { max: 1, per: "lifetime", key: "metadata.email_id" },
      },
      { _id: "unsubscribe", label: "Unsubscribe", event_type: "unsubscribe", points: -50, active: true },
      { _id: "demo_request", label: "Demo request", event_type: "demo_request", points: 50, active: true },
    ],
  } satisfies RuleSet);

  it("lays every lead out as the worker did, late flags and all, so it writes no page", async () => {
    const { current, redis, keys, options, audit, storedPages } = await leadsWithPages();
    const generation = (await redis.get(keys.gen)) as string;
    const writer = { ...options, generation: () => generation, encodeUpdates: () => new Map() };
    const scorer = createScorer({ ...writer, rules: () => V2_RULES });
    const lane = createDeepLane(writer);
    const next = random(27);
    const types = ["page_view", "page_view", "email_open", "unsubscribe", "video_play"];
    const leads = ["r1", "r2", "r3"];
    const received = Date.now();
    let sent = 0;
    try {
      for (let batch = 0; batch < 16; batch += 1) {
        const events = Array.from({ length: 45 }, (_, i) => {
          const n = sent + i;
          // Lead "r4" asks for demos only: at its cap from its 20th event, so a late event grows the page it lands
          // in and the pages after it are kept, each now further on than where it was written.
          const capped = n % 4 === 0;
          const lead = capped ? "r4" : (leads[Math.floor(next() * leads.length)] as string);
          const type = capped ? "demo_request" : (types[Math.floor(next() * types.length)] as string);
          // 4% stamped hours before their neighbours (the deep lane folds those into settled pages); the rest a
          // minute apart, a few received before every event scored so far (a slow client's delivery, coming last),
          // so entries settled in pages arrived late after all.
          const at = T0 + n * 60_000 - (next() < 0.04 ? Math.floor(next() * 400) * 60_000 : 0);
          const at_received = received + n * 100 - (n % 200 === 150 ? 3_600_000 : 0);
          const metadata = type === "page_view" ? { path: next() < 0.3 ? "/pricing" : "/" } : { email_id: `m${n % 7}` };
          return { ...queued(lead, `${lead}-${n}`, type, at, metadata), received_at: at_received };
        });
        sent += events.length;
        // Last, one more demo of "r4" stamped near its first: it lands in its first page, at the cap by then.
        if (batch === 15) events.push(queued("r4", "r4-first-demo", "demo_request", T0 + 30_000));
        await scorer.scoreBatch(events);
        for (let pass = 0; (await redis.hlen(keys.deep)) > 0; pass += 1) {
          if (pass > 50) throw new Error("the deep lane did not empty in 50 passes");
          await lane.runOnce();
        }
      }
    } finally {
      await lane.stop();
    }
    await sweepRetiredPages({ db: current.db, redis, keys, now: () => Date.now() + RETIRED_GRACE_MS + 1 });
    const scored = await audit();
    expect([...scored.problems, ...scored.pageProblems]).toEqual([]);
    const named = scored.pages?.referenced ?? 0;
    // Four leads of about 180 entries: two or three pages each, beside the nine of "a", "b" and "c".
    expect(named).toBeGreaterThan(15);
    expect(scored.pages).toEqual({ stored: named, referenced: named, retired: 0 });

    await rebuildLiveState(options);
    const rebuilt = await audit();
    expect([...rebuilt.problems, ...rebuilt.pageProblems]).toEqual([]);
    expect(rebuilt.pages).toEqual({ stored: named, referenced: named, retired: 0 });
    expect(await storedPages()).toBe(named);
  }, 180_000);
});

describe("when a commit names a retired page again while the sweep deletes it", () => {
  it("puts the page back after its delete, from the copy its writer held", async () => {
    const { current, redis, keys, audit } = await leadsWithPages();
    const pages = current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
    // Lead "a"'s last page, superseded by a refold (out of its list, retired), still stored until the sweep.
    const list = decodePageRefs(await redis.hget(keys.lead("a"), leadHashField("pages")));
    const last = list.at(-1) as PageRef;
    const doc = (await pages.findOne({ _id: last.id })) as HistoryPageDocument;
    await redis.hset(keys.lead("a"), leadHashField("pages"), JSON.stringify(list.slice(0, -1).map(encodePageRef)));
    await retirePages(redis, keys, [last.id]);

    // Between the sweep's check and its delete, a writer lays the same content out again: it holds its copy, its
    // commit names the page, its insert finds the page still stored, and it releases its copy.
    const beforeDelete = async (claimed: readonly string[]) => {
      expect(claimed).toEqual([last.id]);
      await holdPages(redis, keys, [{ ...doc, written_at: new Date() }]);
      await redis.hset(keys.lead("a"), leadHashField("pages"), JSON.stringify(list.map(encodePageRef)));
      expect([...(await insertNew(pages, [doc]))]).toEqual([0]);
      // The page is being deleted: the copy stays for the sweep.
      expect(await releasePages(redis, keys, [last.id])).toBe(1);
    };
    const late = () => Date.now() + RETIRED_GRACE_MS + 1;
    expect(await sweepRetiredPages({ db: current.db, redis, keys, now: late, beforeDelete })).toBe(0);

    // The page the lead names is stored, no copy or claim is left, and nothing is retired.
    expect(await pages.findOne({ _id: last.id })).toMatchObject({ entries: doc.entries, n: doc.n });
    expect(await redis.hlen(keys.pendingPages)).toBe(0);
    expect(await redis.zcard(keys.deletingPages)).toBe(0);
    const swept = await audit();
    expect([...swept.problems, ...swept.pageProblems]).toEqual([]);
    expect(swept.pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
  }, 120_000);
});

describe("the audit", () => {
  it("counts retired pages as stored, and finds more than 1.1× those named", async () => {
    const { current, redis, keys, audit } = await leadsWithPages();
    expect((await audit()).pageProblems).toEqual([]);
    const orphan = (n: number): HistoryPageDocument => ({
      _id: `a|orphan-${n}`,
      lead_id: "a",
      n: 0,
      entries: "[]",
      written_at: new Date(),
    });
    const pages = current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
    // A retired page is stored until the sweep: 10 stored for 9 named is past 1.1×.
    await pages.insertOne(orphan(1));
    await retirePages(redis, keys, ["a|orphan-1"]);
    expect((await audit()).pageProblems).toEqual([
      "history_pages holds 10 pages (1 retired, awaiting deletion), the live state names 9: more than 1.1×",
    ]);
    // And one neither named nor retired.
    await pages.insertOne(orphan(2));
    expect((await audit()).pageProblems).toEqual([
      "history_pages holds 11 pages (1 retired, awaiting deletion), the live state names 9: more than 1.1×",
    ]);
  }, 120_000);
});

describe("a sweep with a bound on its batches", () => {
  it("deletes at most that many batches of due pages and leaves the rest retired", async () => {
    const { current, redis, keys, audit, storedPages } = await leadsWithPages();
    const count = SWEEP_BATCH + 10;
    const ids = Array.from({ length: count }, (_, n) => `a|orphan-${n}`);
    await current.db
      .collection<HistoryPageDocument>(COLLECTIONS.historyPages)
      .insertMany(ids.map((_id) => ({ _id, lead_id: "a", n: 0, entries: "[]", written_at: new Date() })));
    await retirePages(redis, keys, ids);
    const late = () => Date.now() + RETIRED_GRACE_MS + 1;
    expect(await sweepRetiredPages({ db: current.db, redis, keys, now: late, batches: 1 })).toBe(SWEEP_BATCH);
    expect(await redis.zcard(keys.retiredPages)).toBe(10);
    expect(await sweepRetiredPages({ db: current.db, redis, keys, now: late, batches: 1 })).toBe(10);
    expect(await storedPages()).toBe(9);
    expect((await audit()).pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
  }, 120_000);
});

describe("when the sweep deletes retired pages", () => {
  it("deletes each by its own `_id` equality, never an `$in`, and the pages are gone", async () => {
    const { current, redis, keys, audit, storedPages } = await leadsWithPages();
    const ids = Array.from({ length: 30 }, (_, n) => `a|orphan-${n}`);
    await current.db
      .collection<HistoryPageDocument>(COLLECTIONS.historyPages)
      .insertMany(ids.map((_id) => ({ _id, lead_id: "a", n: 0, entries: "[]", written_at: new Date() })));
    await retirePages(redis, keys, ids);
    // The same store, on a client that reports the deletes it sends.
    const watched = await watchedClient(
      current.config.MONGO_URL,
      (name, collection) => name === "delete" && collection === COLLECTIONS.historyPages,
    );
    try {
      const db = watched.client.db(current.db.databaseName);
      expect(await sweepRetiredPages({ db, redis, keys })).toBe(0);
      expect(watched.sent).toEqual([]);
      const late = () => Date.now() + RETIRED_GRACE_MS + 1;
      // The leads' own scoring may have retired pages of theirs too (a refold that replaced them): those go as well.
      const deleted = await sweepRetiredPages({ db, redis, keys, now: late });
      const deletes = watched.sent.flatMap(({ command }) => command.deletes as { q: { _id: unknown } }[]);
      expect(deletes).toHaveLength(deleted);
      for (const one of deletes) expect(one).toEqual({ q: { _id: expect.any(String) }, limit: 1 });
      const deletedIds = new Set(deletes.map((one) => one.q._id));
      expect(deletedIds.size).toBe(deleted);
      expect(ids.filter((id) => !deletedIds.has(id))).toEqual([]);
      const pages = current.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
      for (const _id of ids) expect(await pages.findOne({ _id })).toBeNull();
    } finally {
      await watched.close();
    }
    expect(await storedPages()).toBe(9);
    expect((await audit()).pages).toEqual({ stored: 9, referenced: 9, retired: 0 });
  }, 120_000);
});
