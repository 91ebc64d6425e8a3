// A Redis restart that brought the live state back from its append-only file costs what it lost, not a rebuild: the
// worker folds the events of the journal's unfinished batches (journal.ts, catch-up.ts) into the generation that came
// back, and names it on the new run of Redis. The loss of a prefix's tail is made here as the file makes it: the
// live and journal keys are put back as they were before the last batch (DUMP, then RESTORE), on a Redis of our own
// with the append-only file on.
import {
  type BatchJournalDocument,
  COLLECTIONS,
  type EventDocument,
  type QueuedEvent,
  type RuleSet,
} from "@leadscore/contracts";
import { generationIsCurrent, leadHashField, liveKeys, redisRunId } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { silentLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDb, uniqueName } from "../../test-support/index.ts";
import { startPrivateRedis } from "../../test-support/processes.ts";
import { catchUp } from "../src/catch-up.ts";
import { createDeepLane } from "../src/deep-lane.ts";
import { createBatchJournal, JOURNAL_RETENTION_MS, sweepJournal, unfinishedEntries } from "../src/journal.ts";
import { ensureLiveState, type HeldLock, type RebuildOptions } from "../src/rebuild.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import { createScorer, type LiveWriterOptions } from "../src/scorer.ts";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const CAP = 1000;
const THRESHOLDS = [100, 300, 600] as const;
const RULES = ruleMatcher({
  version: 1,
  groups: [],
  rules: [
    { _id: "view", label: "View", event_type: "page_view", points: 5, limit: { max: 3, per: "day" }, active: true },
    { _id: "purchase", label: "Purchase", event_type: "purchase", points: 100, active: true },
  ],
} satisfies RuleSet);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const event = (lead: string, id: string, type: string, at: number): QueuedEvent => ({
  event_id: id,
  lead_id: lead,
  event_type: type,
  timestamp: at,
  received_at: Date.now(),
  metadata: {},
});

async function setup() {
  const server = await startPrivateRedis(["--appendonly", "yes", "--appendfsync", "everysec"]);
  cleanups.push(server.stop);
  const redis = new Redis(server.url);
  cleanups.push(async () => redis.disconnect());
  const testDb = await createTestDb(uniqueName("catch-up"));
  cleanups.push(testDb.drop);
  const prefix = uniqueName("cu");
  const keys = liveKeys(prefix);
  let rebuilds = 0;
  const log = { ...silentLogger, info: (message: string) => void (message === "live state rebuilt" && rebuilds++) };
  const base = { db: testDb.db, redis, keys, cap: CAP, thresholds: THRESHOLDS, log };
  const writer = (generation: string): LiveWriterOptions => ({
    ...base,
    generation: () => generation,
    encodeUpdates: () => new Map(),
  });
  const catchUpInto = (generation: string, lock: HeldLock) => {
    const { scoreStored } = createScorer({ ...writer(generation), rules: () => RULES });
    return catchUp({ db: testDb.db, redis, keys, scoreStored, lock });
  };
  const options: RebuildOptions = { ...base, catchUp: catchUpInto };
  const journal = createBatchJournal({ db: testDb.db, redis, keys: keys.journal });
  const generation = await ensureLiveState(options);
  const scorer = createScorer({ ...writer(generation), rules: () => RULES, journal });
  const audit = async () =>
    (await auditLiveState({ db: testDb.db, redis, redisPrefix: prefix, cap: CAP, thresholds: THRESHOLDS })).problems;
  const drainDeepLane = async (generationNow: string) => {
    const lane = createDeepLane(writer(generationNow));
    for (let pass = 0; (await redis.hlen(keys.deep)) > 0; pass++) {
      if (pass > 20) throw new Error("the deep lane did not empty");
      await lane.runOnce();
    }
    await lane.stop();
  };
  return {
    redis,
    db: testDb.db,
    keys,
    prefix,
    options,
    scorer,
    generation,
    audit,
    drainDeepLane,
    rebuilds: () => rebuilds,
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** The live and journal keys, dumped: what an append-only file holding the writes so far would give back. */
async function snapshot({ redis, prefix }: Setup): Promise<Map<string, Buffer>> {
  const dumped = new Map<string, Buffer>();
  for (const pattern of [`${prefix}:live:*`, `${prefix}:journal:*`]) {
    for (const key of await redis.keys(pattern)) {
      const value = await redis.dumpBuffer(key);
      if (value) dumped.set(key, value);
    }
  }
  return dumped;
}

/** Puts the keys back as the snapshot holds them, as a restart whose file ended there would. */
async function restore({ redis, prefix }: Setup, dumped: Map<string, Buffer>): Promise<void> {
  for (const pattern of [`${prefix}:live:*`, `${prefix}:journal:*`]) {
    const keys = await redis.keys(pattern);
    if (keys.length > 0) await redis.del(...keys);
  }
  for (const [key, value] of dumped) await redis.restore(key, 0, value);
}

/**
 * The generation, and the journal's entries, as an earlier run of Redis named them: what a restart leaves (a new run
 * id).
 */
async function asOnEarlierRun(s: Setup, generation: string): Promise<string> {
  const earlier = generation.replace(/^[^:]+/, EARLIER_RUN);
  await s.redis.set(s.keys.gen, earlier);
  await journalOnEarlierRun(s);
  return earlier;
}

const EARLIER_RUN = "0".repeat(40);

/** The journal's entries as opened on an earlier run of Redis. */
async function journalOnEarlierRun({ db }: Setup): Promise<void> {
  await db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal).updateMany({}, { $set: { run: EARLIER_RUN } });
}

describe("when Redis comes back from its append-only file with every commit", () => {
  it("keeps the generation's label, rewrites no lead and rebuilds nothing", async () => {
    const s = await setup();
    await s.scorer.scoreBatch(
      Array.from({ length: 40 }, (_, i) => event(`l${i % 8}`, `a${i}`, "purchase", T0 + 1_000 * i)),
    );
    const versions = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.redis.hget(s.keys.lead(`l${i}`), leadHashField("version"))),
    );
    const earlier = await asOnEarlierRun(s, s.generation);
    expect(earlier).not.toBe(s.generation);
    expect(await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal })).toEqual([]);

    const renewed = await ensureLiveState(s.options);
    expect(renewed).toBe(s.generation.replace(/^[^:]+/, await redisRunId(s.redis)));
    expect(renewed.split(":").at(-1)).toBe(s.generation.split(":").at(-1));
    expect(s.rebuilds()).toBe(1); // the first start's, on an empty Redis
    expect(
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => s.redis.hget(s.keys.lead(`l${i}`), leadHashField("version"))),
      ),
    ).toEqual(versions);
    expect(await s.audit()).toEqual([]);
  }, 60_000);
});

describe("while the generation that came back is not caught up yet", () => {
  it("the deep lane begins no pass, and folds its leads once the generation is current", async () => {
    const s = await setup();
    await s.scorer.scoreBatch(
      Array.from({ length: 120 }, (_, i) => event("l0", `p${i}`, "page_view", T0 + 60_000 * i)),
    );
    // A late event for the deep lane.
    await s.scorer.scoreBatch([event("l0", "late", "purchase", T0 + 1)]);
    expect(await s.redis.hlen(s.keys.deep)).toBe(1);
    let generation = await asOnEarlierRun(s, s.generation);
    const lane = createDeepLane({
      ...s.options,
      generation: () => generation,
      encodeUpdates: () => new Map(),
      whenCurrent: async () => generationIsCurrent(s.redis, await s.redis.get(s.keys.gen)),
    });
    try {
      expect(await lane.runOnce()).toBe(0);
      expect(await s.redis.hlen(s.keys.deep)).toBe(1);
      generation = await ensureLiveState(s.options);
      expect(await lane.runOnce()).toBe(1);
      expect(await s.redis.hlen(s.keys.deep)).toBe(0);
      expect(await s.audit()).toEqual([]);
    } finally {
      await lane.stop();
    }
  }, 60_000);
});

describe("when Redis comes back without the last batch's commits (a prefix of its writes)", () => {
  it("folds only that batch's events into the generation that came back", async () => {
    const s = await setup();
    // Batch A: 8 leads, two of them with pages (more than a tail holds).
    const a = Array.from({ length: 300 }, (_, i) =>
      event(
        i < 240 ? `l${i % 2}` : `l${2 + (i % 6)}`,
        `a${i}`,
        i % 3 === 0 ? "purchase" : "page_view",
        T0 + 60_000 * i,
      ),
    );
    await s.scorer.scoreBatch(a);
    const kept = await snapshot(s);
    const untouched = await s.redis.hget(s.keys.lead("l7"), leadHashField("version"));
    // Batch B, whose commits the restart loses: events newer than each lead's newest, one slotted into a tail, one
    // older than a paged lead's tail (the deep lane places it), a new lead, and repeats of A's events.
    const b = [
      event("l0", "b-new", "purchase", T0 + 60_000 * 400),
      event("l2", "b-tail", "purchase", T0 + 60_000 * 250 + 1),
      event("l1", "b-old", "purchase", T0 + 30_000),
      event("fresh", "b-fresh", "page_view", T0),
      ...a.slice(0, 5),
    ];
    const result = await s.scorer.scoreBatch(b);
    expect(result.stored).toBe(4);
    await s.drainDeepLane(s.generation);
    expect(await s.audit()).toEqual([]);

    await restore(s, kept);
    await asOnEarlierRun(s, s.generation);
    // What the restart lost shows: three leads behind their stored events, one missing.
    expect((await s.audit()).length).toBeGreaterThanOrEqual(4);
    const unfinished = await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal });
    expect(unfinished.map((entry) => entry.events.length)).toEqual([b.length]);

    const renewed = await ensureLiveState(s.options);
    expect(renewed.split(":").at(-1)).toBe(s.generation.split(":").at(-1));
    expect(renewed.startsWith(await redisRunId(s.redis))).toBe(true);
    expect(s.rebuilds()).toBe(1);
    await s.drainDeepLane(renewed);
    expect(await s.audit()).toEqual([]);
    // A lead the lost batch did not touch was not written again.
    expect(await s.redis.hget(s.keys.lead("l7"), leadHashField("version"))).toBe(untouched);
    // The batch is held now: a later restart does not look at it again.
    expect(await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal })).toEqual([]);
  }, 120_000);
});

describe("when Redis comes back with a batch's commits but not its done mark", () => {
  it("finds its events in their leads' tails and reads none of them from MongoDB", async () => {
    const s = await setup();
    const batch = Array.from({ length: 30 }, (_, i) => event(`l${i % 3}`, `k${i}`, "purchase", T0 + 1_000 * i));
    await s.scorer.scoreBatch(batch);
    // What a restart that lost the mark's write (the last one of the batch) gives back.
    await s.redis.del(s.keys.journal.done);
    await asOnEarlierRun(s, s.generation);
    const versions = await s.redis.hget(s.keys.lead("l0"), leadHashField("version"));
    const { scoreStored } = createScorer({
      ...s.options,
      generation: () => s.generation,
      encodeUpdates: () => new Map(),
      rules: () => RULES,
    });
    const result = await catchUp({ db: s.db, redis: s.redis, keys: s.keys, scoreStored });
    expect({ batches: result.batches, inTails: result.inTails, read: result.events, reads: result.reads }).toEqual({
      batches: 1,
      inTails: 30,
      read: 0,
      reads: 0,
    });
    expect(await s.redis.hget(s.keys.lead("l0"), leadHashField("version"))).toBe(versions);
    expect(await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal })).toEqual([]);
    expect(await s.audit()).toEqual([]);
  }, 60_000);
});

describe("when the batch whose commits a restart lost is still in hand", () => {
  it("leaves its events to the batch: reads none, folds none, and keeps its entry unfinished", async () => {
    const s = await setup();
    await s.scorer.scoreBatch([event("l0", "a0", "purchase", T0)]);
    const kept = await snapshot(s);
    const batch = [event("l0", "h1", "purchase", T0 + 1_000), event("l1", "h2", "purchase", T0 + 2_000)];
    // The batch's tries share what they stored, as the worker's do (StoredMemo).
    const memo = new Set<string>();
    await s.scorer.scoreBatch(batch, memo);
    await restore(s, kept);
    const earlier = await asOnEarlierRun(s, s.generation);
    // Scoring into the generation that came back, as the worker's catch-up and batches do until it is renamed.
    const { scoreStored, scoreBatch } = createScorer({
      ...s.options,
      generation: () => earlier,
      encodeUpdates: () => new Map(),
      rules: () => RULES,
    });
    const inHand = new Set(batch.map((e) => e.event_id));
    const result = await catchUp({
      db: s.db,
      redis: s.redis,
      keys: s.keys,
      scoreStored,
      inHand: (id) => inHand.has(id),
    });
    expect({ inHand: result.inHand, inTails: result.inTails, read: result.events, folded: result.folded }).toEqual({
      inHand: 2,
      inTails: 0,
      read: 0,
      folded: 0,
    });
    expect(await s.redis.exists(s.keys.lead("l1"))).toBe(0);
    expect(await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal })).toHaveLength(1);
    // Its batch runs again and commits them.
    await scoreBatch(batch, memo);
    expect(await s.audit()).toEqual([]);
  }, 60_000);
});

describe("when a lead partition catches up a batch of another partition's leads", () => {
  it("reads their events, so their entries are held, but neither looks for them in its tails nor folds them", async () => {
    const s = await setup();
    await s.scorer.scoreBatch([event("l0", "a0", "purchase", T0)]);
    const kept = await snapshot(s);
    await s.scorer.scoreBatch([event("l0", "o1", "purchase", T0 + 1_000), event("elsewhere", "o2", "purchase", T0)]);
    await restore(s, kept);
    const earlier = await asOnEarlierRun(s, s.generation);
    const { scoreStored } = createScorer({
      ...s.options,
      generation: () => earlier,
      encodeUpdates: () => new Map(),
      rules: () => RULES,
    });
    const result = await catchUp({
      db: s.db,
      redis: s.redis,
      keys: s.keys,
      scoreStored,
      owns: (leadId) => leadId !== "elsewhere",
      inHand: () => false,
    });
    expect({ read: result.events, folded: result.folded, reads: result.reads }).toEqual({
      read: 1,
      folded: 1,
      // Its own event and the other partition's: one read by `_id` each.
      reads: 2,
    });
    expect(await s.redis.exists(s.keys.lead("elsewhere"))).toBe(0);
    expect(await s.redis.hget(s.keys.lead("l0"), leadHashField("count"))).toBe("2");
    expect(await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal })).toEqual([]);
  }, 60_000);
});

describe("when Redis comes back from snapshots only (no append-only file)", () => {
  it("rebuilds, since what came back may be older than the journal reaches", async () => {
    const s = await setup();
    await s.scorer.scoreBatch([event("l0", "a0", "purchase", T0)]);
    await s.redis.config("SET", "appendonly", "no");
    await asOnEarlierRun(s, s.generation);
    const rebuilt = await ensureLiveState(s.options);
    expect(rebuilt.split(":").at(-1)).not.toBe(s.generation.split(":").at(-1));
    expect(s.rebuilds()).toBe(2);
    expect(await s.audit()).toEqual([]);
  }, 60_000);
});

describe("the journal", () => {
  it("keeps an entry for every batch, marks it done after its commits, and sweeps old entries", async () => {
    const s = await setup();
    let clock = Date.now();
    const journal = createBatchJournal({ db: s.db, redis: s.redis, keys: s.keys.journal, now: () => clock });
    const id = await journal.open([
      { event_id: "e1", lead_id: "l0" },
      { event_id: "e2", lead_id: "l1" },
    ]);
    const options = { db: s.db, redis: s.redis, keys: s.keys.journal, now: () => clock };
    // Opened on this run of Redis: its batch commits to this run, no restart's catch-up looks at it.
    expect(await unfinishedEntries(options)).toEqual([]);
    await journalOnEarlierRun(s);
    expect((await unfinishedEntries(options)).map((entry) => [entry._id, entry.events, entry.leads])).toEqual([
      [id, ["e1", "e2"], ["l0", "l1"]],
    ]);
    await journal.done(id);
    expect(await unfinishedEntries(options)).toEqual([]);
    clock += JOURNAL_RETENTION_MS - 1;
    expect(await sweepJournal(options)).toBe(0);
    clock += 2;
    expect(await sweepJournal(options)).toBe(1);
    expect(await s.db.collection(COLLECTIONS.batchJournal).countDocuments({})).toBe(0);
    expect(await s.db.collection(COLLECTIONS.batchJournalIds).countDocuments({})).toBe(0);
    // Every stored event of a scored batch is in an entry.
    await s.scorer.scoreBatch([event("l0", "x1", "purchase", T0)]);
    const stored = await s.db.collection<EventDocument>(COLLECTIONS.events).countDocuments({});
    const entries = await s.db.collection(COLLECTIONS.batchJournalIds).find({}).toArray();
    expect(stored).toBe(1);
    expect(entries.map((entry) => entry.events)).toEqual(["x1"]);
  }, 60_000);

  it("keeps a batch's ids out of the entries it scans, as one text each, and reads entries stored before as well", async () => {
    const s = await setup();
    const journal = createBatchJournal({ db: s.db, redis: s.redis, keys: s.keys.journal });
    const id = await journal.open([
      { event_id: "t1", lead_id: "l0" },
      { event_id: "t2", lead_id: "l1" },
      { event_id: "t3", lead_id: "l0" },
    ]);
    const entries = s.db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal);
    // The entry a restart's scan reads holds its time and run only; its ids are read by `_id` when it is unfinished.
    const entry = await entries.findOne({ _id: id });
    expect(Object.keys(entry ?? {}).sort()).toEqual(["_id", "at", "run"]);
    expect(await s.db.collection(COLLECTIONS.batchJournalIds).findOne({ _id: id as never })).toMatchObject({
      events: "t1 t2 t3",
      leads: "l0 l1 l0",
      at: entry?.at,
    });
    await entries.insertOne({ _id: "inline", at: new Date(), events: "i1 i2", leads: "l4 l5" });
    await entries.insertOne({ _id: "as-arrays", at: new Date(), events: ["a1", "a2"], leads: ["l2", "l3"] });
    await entries.insertOne({ _id: "without-leads", at: new Date(), events: ["w1"] });
    // A batch that died between its entry's two inserts stored no event.
    await entries.insertOne({ _id: "without-ids", at: new Date() });
    await journalOnEarlierRun(s);
    const read = await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal });
    expect(read.map((entry) => [entry._id, entry.events, entry.leads]).sort()).toEqual(
      [
        [id, ["t1", "t2", "t3"], ["l0", "l1", "l0"]],
        ["inline", ["i1", "i2"], ["l4", "l5"]],
        ["as-arrays", ["a1", "a2"], ["l2", "l3"]],
        ["without-leads", ["w1"], undefined],
        ["without-ids", [], undefined],
      ].sort(),
    );
  }, 60_000);
});
