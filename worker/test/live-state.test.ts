import { randomUUID } from "node:crypto";
import { COLLECTIONS, type HistoryPageDocument, type QueuedEvent } from "@leadscore/contracts";
import {
  createLiveReader,
  decodeLeadHash,
  generationIsCurrent,
  historySpans,
  LEAD_FIELDS,
  type LeadHash,
  type LeadHashField,
  leadHashFields,
  liveKeys,
  pageRef,
  redisRunId,
} from "@leadscore/live";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import {
  auditAll,
  createStack,
  entryView,
  historyOf,
  leadOf,
  queued,
  T0,
  type TestStack,
} from "../../test-support/worker-stack.ts";
import { layoutHistory } from "../src/plan.ts";
import { rebuildLiveState, withRebuildLock } from "../src/rebuild.ts";
import { random, workload } from "./random-events.ts";

let stack: TestStack | undefined;

afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

/** Every field of a lead's hash. */
const EVERY_FIELD: readonly LeadHashField[] = [...LEAD_FIELDS, "newest"];

/** Every key of the live state, with its type and value, for comparing two states. */
async function liveSnapshot(redis: Redis, prefix: string) {
  const keys = liveKeys(prefix);
  const ids = (await redis.zrange(keys.byScore, 0, "-1")) as string[];
  const leads: Record<string, LeadHash> = {};
  for (const id of ids) {
    // The version counts commits, page ids are new with every rebuild, a rebuild dates a lead from its earliest
    // received event where the worker dated it from its first commit, and lays out pages of PAGE_SIZE where a late
    // event grows the page it lands in (so where the tail starts, its base and newest received_at may differ; the
    // histories are compared whole); everything else must be equal.
    const read = await redis.hmget(keys.lead(id), ...leadHashFields(EVERY_FIELD));
    const {
      version: _version,
      updatedAt: _updated,
      createdAt: _created,
      pages: _pages,
      tail: _tail,
      base: _base,
      tailReceivedMax: _received,
      ...fields
    } = decodeLeadHash(EVERY_FIELD, read);
    leads[id] = fields;
  }
  return { ranking: ids, leads };
}

describe("when a duplicate of an event in a lead's pages arrives", () => {
  it("rescans the lead's stored events and keeps the pages the rescan leaves unchanged under their ids", async () => {
    stack = await createStack();
    const worker = await stack.startWorker();
    const events = Array.from({ length: 180 }, (_, i) => queued("dup", `u${i}`, "page_view", T0 + 1_000 * (i + 1)));
    await stack.send(events, 20);
    await stack.drained();
    const redis = new Redis(REDIS_URL);
    const reader = createLiveReader({
      redis,
      redisPrefix: stack.config.REDIS_PREFIX,
      cap: 1000,
      thresholds: [100, 300, 600],
    });
    try {
      const before = (await reader.leadWithTail("dup"))?.pages ?? [];
      expect(before.length).toBeGreaterThan(1);
      await stack.send([events[0] as QueuedEvent]);
      await stack.drained();
      await eventually(async () =>
        expect(worker.metrics.render()).toMatch(/leadscore_worker_deep_lane_folded_total\{read="rescan"\} 1/),
      );
      expect((await reader.leadWithTail("dup"))?.pages).toEqual(before);
      expect(await historyOf(stack, "dup")).toHaveLength(180);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});

describe("when a late event reaches back past a lead's tail", () => {
  it("is folded exactly by the deep lane, from the lead's history pages, and counted", async () => {
    stack = await createStack();
    const worker = await stack.startWorker();
    const events = Array.from({ length: 180 }, (_, i) => queued("deep", `d${i}`, "page_view", T0 + 1_000 * (i + 1)));
    // Older in event time than all the others and received after them: late.
    events.push({ ...queued("deep", "d-big", "purchase", T0 + 500), received_at: Date.now() + 1_000 });
    await stack.send(events.slice(0, 180), 20);
    await stack.drained();
    const pages = await stack.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages).countDocuments({});
    expect(pages).toBeGreaterThan(0);
    // The chart's spans of the pages, kept page by page as the tail spilled, are what the whole history lays out to.
    const redis = new Redis(REDIS_URL);
    try {
      const layout = layoutHistory(await historyOf(stack, "deep"));
      const spans = historySpans({ pages: layout.pages.map((page, n) => pageRef(`page-${n}`, page)), tail: [] });
      expect(spans.length).toBeGreaterThan(1);
      const lead = await createLiveReader({
        redis,
        redisPrefix: stack.config.REDIS_PREFIX,
        cap: stack.config.SCORE_CAP,
        thresholds: stack.config.STAGE_THRESHOLDS,
      }).leadWithTail("deep");
      expect(historySpans({ pages: lead?.pages ?? [], tail: [] })).toEqual(spans);
    } finally {
      redis.disconnect();
    }

    // Older than every event of the lead: before all its pages.
    await stack.send(events.slice(180));
    await stack.drained();
    const history = await historyOf(stack, "deep");
    expect(history[0]).toMatchObject({ event_id: "d-big", score: 100, late: true });
    expect(history).toHaveLength(181);
    expect(await auditAll(stack)).toEqual([]);
    const pagesOf = async () => {
      const redis = new Redis(REDIS_URL);
      try {
        const reader = createLiveReader({
          redis,
          redisPrefix: stack?.config.REDIS_PREFIX as string,
          cap: 1000,
          thresholds: [100, 300, 600],
        });
        return (await reader.leadWithTail("deep"))?.pages ?? [];
      } finally {
        redis.disconnect();
      }
    };
    const before = await pagesOf();

    // Late again, but only back into the second page: the first page is kept as it is, the second written anew (and
    // the ones after it, whose scores all move by the purchase's points).
    await stack.send([
      { ...queued("deep", "d-mid", "purchase", T0 + 1_000 * 60 + 500), received_at: Date.now() + 2_000 },
    ]);
    await stack.drained();
    const after = await pagesOf();
    expect(after[0]?.id).toBe(before[0]?.id);
    // Each page's `n` is the number of the lead's entries before it, for a page spilled from the tail and kept as for
    // the pages a late event had written anew.
    // The deep lane stores a commit's pages once the commit landed, which is when the lead left its hash: the test
    // waits for them as readers need not (they find pages held in Redis until stored).
    const stored = await eventually(async () => {
      const pages = await stack?.db
        .collection<HistoryPageDocument>(COLLECTIONS.historyPages)
        .find({ lead_id: "deep" })
        .toArray();
      const ids = new Set(pages?.map((page) => page._id));
      return after.every(({ id }) => ids.has(id)) && pages;
    });
    const storedN = new Map(stored.map((page) => [page._id, page.n]));
    let entriesBefore = 0;
    const expectedN = after.map(({ size }) => {
      const n = entriesBefore;
      entriesBefore += size;
      return n;
    });
    expect(after.map(({ id }) => storedN.get(id))).toEqual(expectedN);
    expect(expectedN.at(-1)).toBeGreaterThan(0);
    expect(after.slice(1).map(({ id }) => id)).not.toContain(before[1]?.id);
    expect((await historyOf(stack, "deep")).find((entry) => entry.event_id === "d-mid")).toMatchObject({ late: true });
    expect(await auditAll(stack)).toEqual([]);
    expect(worker.metrics.render()).toMatch(/leadscore_worker_deep_lane_diverted_total\{reason="pages"\} 2/);
    expect(worker.metrics.render()).toMatch(/leadscore_worker_deep_lane_folded_total\{read="pages"\} 2/);
    // The late events' lags are counted too, though the deep lane folded them after their jobs completed.
    expect(worker.metrics.render()).toMatch(/leadscore_worker_lag_seconds_count 182\n/);
  }, 120_000);
});

describe("when a late event lands in a long history's newest page and the process holds none of its pages", () => {
  it("reads the pages from that one on, not the whole history, and folds it exactly", async () => {
    stack = await createStack();
    const first = await stack.startWorker();
    const events = Array.from({ length: 420 }, (_, i) => queued("long", `l${i}`, "page_view", T0 + 1_000 * (i + 1)));
    await stack.send(events, 50);
    await stack.drained();
    const { pages } = layoutHistory(await historyOf(stack, "long"));
    expect(pages.length).toBe(7);
    // A new process: its page cache is empty.
    await first.close();
    const worker = await stack.startWorker();
    // Entry 330 sits in the seventh page (entries 301–350).
    await stack.send([{ ...queued("long", "l-late", "purchase", T0 + 1_000 * 330 + 500), received_at: Date.now() }]);
    await stack.drained();
    const history = await historyOf(stack, "long");
    expect(history).toHaveLength(421);
    expect(history.find((entry) => entry.event_id === "l-late")).toMatchObject({ late: true, score: 1000 });
    expect(await auditAll(stack)).toEqual([]);
    const read = worker.metrics.render().match(/leadscore_worker_deep_lane_pages_read_total\{from="store"\} (\d+)/);
    expect(Number(read?.[1])).toBeLessThan(pages.length);
    expect(Number(read?.[1])).toBeGreaterThan(0);
  }, 120_000);
});

describe("when the live keys are deleted while no batch is committing", () => {
  it("rebuilds them within seconds all the same", async () => {
    stack = await createStack();
    await stack.startWorker();
    await stack.send([queued("idle", "i1", "purchase", T0)]);
    await stack.drained();
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      await redis.del(keys.gen, keys.lead("idle"), keys.byScore);
      await eventually(async () => (await leadOf(stack as TestStack, "idle"))?.current_score === 100, 15_000);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});

describe("when the live state was laid out by an earlier version", () => {
  it("is rebuilt, filling the indexes that version did not keep", async () => {
    stack = await createStack();
    await stack.startWorker();
    await stack.send([queued("older", "o1", "purchase", T0)]);
    await stack.drained();
    const redis = new Redis(REDIS_URL);
    try {
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      // What a version without the latest-activity index leaves: the lead in no such index, a generation of this
      // Redis run in the earlier `<run id>:<random>` form.
      await redis.zrem(keys.byLastEvent, "older");
      await redis.set(keys.gen, `${await redisRunId(redis)}:${randomUUID()}`);
      // Rebuilt: the lead back in the index, and then the generation named.
      await eventually(
        async () =>
          (await redis.zscore(keys.byLastEvent, "older")) === String(T0) &&
          (await generationIsCurrent(redis, await redis.get(keys.gen))),
        15_000,
      );
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});

describe("when the live keys are wiped while events flow", () => {
  it("rebuilds them from MongoDB with identical scores, ranks and histories", async () => {
    stack = await createStack({ env: { WORKER_CONCURRENCY: "4" } });
    await stack.startWorker({ maxBatchEvents: 100 });
    const { events, arrival, leads } = workload(5, 40, 30, "wipe", 150);
    const redis = new Redis(REDIS_URL);
    try {
      const half = Math.floor(arrival.length / 2);
      await stack.send(arrival.slice(0, half), 20);
      // Wipe while the second half is queued and being scored.
      const next = random(3);
      await stack.send(arrival.slice(half), 1 + Math.floor(next() * 20));
      const doomed = [];
      let cursor = "0";
      do {
        const [after, found] = await redis.scan(
          cursor,
          "MATCH",
          liveKeys(stack.config.REDIS_PREFIX).pattern,
          "COUNT",
          1000,
        );
        cursor = after;
        doomed.push(...found);
      } while (cursor !== "0");
      expect(doomed.length).toBeGreaterThan(0);
      await redis.del(...doomed);
      // Rebuilt, whether batches were still committing (their commits find the generation gone) or not (the worker
      // looks at the generation every second).
      const gen = liveKeys(stack.config.REDIS_PREFIX).gen;
      await eventually(async () => {
        const current = await redis.get(gen);
        return current !== null && !current.startsWith("rebuilding:");
      }, 30_000);
      await stack.drained(120_000);

      expect(await auditAll(stack)).toEqual([]);
      const scored = new Set(events.map((event) => event.lead_id));
      for (const lead of leads)
        expect(await leadOf(stack, lead), lead).toEqual(scored.has(lead) ? expect.anything() : null);
      const before = await liveSnapshot(redis, stack.config.REDIS_PREFIX);
      const histories = async () =>
        Promise.all(leads.map(async (lead) => (await historyOf(stack as TestStack, lead)).map(entryView)));
      const historiesBefore = await histories();

      // `npm run rebuild` now gives the very same state: it is a function of MongoDB alone.
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      const { cap, thresholds } = { cap: stack.config.SCORE_CAP, thresholds: stack.config.STAGE_THRESHOLDS };
      // Under the rebuild lock, as `npm run rebuild` does, so the running worker waits for it.
      await withRebuildLock(redis, keys, () =>
        rebuildLiveState({ db: stack?.db as TestStack["db"], redis, keys, cap, thresholds, log: silentLogger }),
      );
      expect(await liveSnapshot(redis, stack.config.REDIS_PREFIX)).toEqual(before);
      expect(await histories()).toEqual(historiesBefore);
    } finally {
      redis.disconnect();
    }
  }, 180_000);
});

describe("when a rebuild's leads hold more events than one chunk may", () => {
  it("folds and writes them in chunks bounded by events, to the same state as one chunk of all", async () => {
    stack = await createStack();
    await stack.startWorker({ maxBatchEvents: 100 });
    const types = ["page_view", "email_open", "purchase"];
    const arrival = [
      // One lead with most of the events, some of them late, and small leads around it.
      ...Array.from({ length: 90 }, (_, i) =>
        queued("big", `b${i}`, types[i % 3] as string, T0 + ((i * 7) % 90) * 1_000),
      ),
      ...Array.from({ length: 60 }, (_, i) =>
        queued(`small-${i % 12}`, `s${i}`, types[i % 3] as string, T0 + i * 1_000),
      ),
    ];
    const redis = new Redis(REDIS_URL);
    try {
      await stack.send(arrival, 25);
      await stack.drained();
      const keys = liveKeys(stack.config.REDIS_PREFIX);
      const { cap, thresholds } = { cap: stack.config.SCORE_CAP, thresholds: stack.config.STAGE_THRESHOLDS };
      const leads = ["big", ...Array.from({ length: 12 }, (_, i) => `small-${i}`)];
      const histories = async () =>
        Promise.all(leads.map(async (lead) => (await historyOf(stack as TestStack, lead)).map(entryView)));
      const rebuild = (writeEvents: number, chunks: { leads: number; events: number }[]) =>
        withRebuildLock(redis, keys, () =>
          rebuildLiveState({
            db: stack?.db as TestStack["db"],
            redis,
            keys,
            cap,
            thresholds,
            log: silentLogger,
            writeEvents,
            onChunk: (chunk) => chunks.push(chunk),
          }),
        );
      const whole: { leads: number; events: number }[] = [];
      await rebuild(1_000, whole);
      expect(whole).toEqual([{ leads: 13, events: 150 }]);
      const before = await liveSnapshot(redis, stack.config.REDIS_PREFIX);
      const historiesBefore = await histories();

      // The big lead's hash as written whole (its page list and tail too), but for when and how often it was written.
      const bigHash = async () => {
        const hash = await redis.hgetall(keys.lead("big"));
        for (const field of leadHashFields(["version", "updatedAt"])) delete hash[field];
        return hash;
      };
      const bigBefore = await bigHash();
      expect(Object.keys(bigBefore).length).toBeGreaterThan(5);

      const chunked: { leads: number; events: number }[] = [];
      await rebuild(12, chunked);
      // Every chunk within the bound, the big lead's too: its 90 events were folded 12 at a time.
      for (const chunk of chunked) expect(chunk.events, JSON.stringify(chunk)).toBeLessThanOrEqual(12);
      expect(chunked.filter((chunk) => chunk.leads === 1 && chunk.events === 12)).toHaveLength(7);
      expect(chunked.reduce((sum, chunk) => sum + chunk.events, 0)).toBe(150);
      expect(await liveSnapshot(redis, stack.config.REDIS_PREFIX)).toEqual(before);
      expect(await histories()).toEqual(historiesBefore);
      expect(await bigHash()).toEqual(bigBefore);
      expect(await auditAll(stack)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
