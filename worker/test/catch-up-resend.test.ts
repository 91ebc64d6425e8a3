// A catch-up's own writes must never outlive commits a SIGKILL of Redis lost. The catch-up folds, after a restart,
// the events of the journal's unfinished batches, then marks their entries done and names the generation on the run
// of Redis it caught up on. Were Redis killed again during the catch-up and back without its last commits, a mark the
// connection resent to it (ioredis resends a command that had no reply), or a renewal naming the new run current,
// would vouch for commits that run never had: the events stay unfolded. Each restart here loads the snapshot taken
// before the catch-up's commits: a deterministic stand-in for an append-only file that lost its last second.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QueuedEvent, RuleSet, ScorableEvent } from "@leadscore/contracts";
import { generationIsCurrent, liveKeys } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { createRedis, RECONNECT, silentLogger } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDb, fixedPort, uniqueName } from "../../test-support/index.ts";
import { type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { catchUp } from "../src/catch-up.ts";
import { createBatchJournal, unfinishedEntries } from "../src/journal.ts";
import { ensureLiveState, type HeldLock, type RebuildOptions } from "../src/rebuild.ts";
import { ruleMatcher } from "../src/rules-cache.ts";
import { type BatchResult, createScorer } from "../src/scorer.ts";

const PURCHASE = { _id: "purchase", label: "Purchase", event_type: "purchase", points: 100, active: true };
const RULES = ruleMatcher({ version: 1, groups: [], rules: [PURCHASE] } satisfies RuleSet);
const [CAP, THRESHOLDS] = [1000, [100, 300, 600] as const];
const T0 = Date.parse("2026-01-01T00:00:00Z");

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const event = (lead: string, id: string, at: number): QueuedEvent => ({
  event_id: id,
  lead_id: lead,
  event_type: "purchase",
  timestamp: at,
  received_at: Date.now(),
  metadata: {},
});

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "leadscore-catch-up-resend-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const port = await fixedPort();
  // Each start loads the last snapshot (SAVE), then writes the append-only file: a catch-up runs only with it on.
  const start = async () => {
    const started = startProcess("redis-server", [
      ...["--bind", "127.0.0.1", "--port", String(port), "--dir", dir],
      ...["--save", "", "--appendonly", "no"],
    ]);
    await started.waitFor(/Ready to accept connections/, 30_000);
    return started;
  };
  let server: RunningProcess = await start();
  cleanups.push(() => server.stop("SIGKILL"));
  // As the worker builds its connection (worker/src/worker.ts).
  const redis = createRedis(
    { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CLUSTER_NODES: [] },
    { lazyConnect: true, ...RECONNECT },
  );
  redis.on("error", () => undefined);
  await redis.connect();
  cleanups.push(async () => redis.disconnect());
  await redis.config("SET", "appendonly", "yes");
  /** Kills Redis (stopped first: what was sent since gets no reply) and starts it again from the last snapshot. */
  const restart = async () => {
    server.child.kill("SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.stop("SIGKILL");
    server = await start();
    await redis.config("SET", "appendonly", "yes");
  };
  const stop = () => server.child.kill("SIGSTOP");

  const testDb = await createTestDb(uniqueName("catch-up-resend"));
  cleanups.push(testDb.drop);
  const prefix = uniqueName("cr");
  const keys = liveKeys(prefix);
  const base = { db: testDb.db, redis, keys, cap: CAP, thresholds: THRESHOLDS, log: silentLogger };
  const writer = (generation: string) => ({ ...base, generation: () => generation, encodeUpdates: () => new Map() });
  /** Runs once after the catch-up's folds are read and before they commit, and once after they did. */
  const hooks: { beforeFold?: () => Promise<void>; afterFold?: () => Promise<void> } = {};
  let catchUps = 0;
  const folding = (generation: string) => {
    const { scoreStored } = createScorer({ ...writer(generation), rules: () => RULES });
    return async (events: readonly ScorableEvent[]): Promise<BatchResult> => {
      const before = hooks.beforeFold;
      hooks.beforeFold = undefined;
      await before?.();
      const result = await scoreStored(events);
      const after = hooks.afterFold;
      hooks.afterFold = undefined;
      await after?.();
      return result;
    };
  };
  const options: RebuildOptions = {
    ...base,
    catchUp: (generation: string, lock: HeldLock) => {
      catchUps++;
      return catchUp({ db: testDb.db, redis, keys, scoreStored: folding(generation), lock });
    },
  };
  const generation = await ensureLiveState(options);
  const journal = createBatchJournal({ db: testDb.db, redis, keys: keys.journal });
  const scorer = createScorer({ ...writer(generation), rules: () => RULES, journal });
  const audit = async () =>
    (await auditLiveState({ db: testDb.db, redis, redisPrefix: prefix, cap: CAP, thresholds: THRESHOLDS })).problems;

  // A first batch kept, then a second whose commits a restart loses (its events are stored, its entry unmarked).
  await scorer.scoreBatch([event("l0", "a1", T0), event("l1", "a2", T0)]);
  await redis.save();
  await scorer.scoreBatch([event("l0", "b1", T0 + 1_000), event("l2", "b2", T0 + 2_000)]);
  await restart();
  expect((await audit()).length).toBeGreaterThan(0);
  const unfinished = await unfinishedEntries({ db: testDb.db, redis, keys: keys.journal });
  expect(unfinished.map((entry) => entry.events)).toEqual([["b1", "b2"]]);
  const entry = (unfinished[0] as { _id: string })._id;
  return {
    redis,
    keys,
    db: testDb.db,
    options,
    hooks,
    restart,
    stop,
    audit,
    entry,
    folding,
    catchUps: () => catchUps,
  };
}

describe("when Redis is killed during a catch-up and comes back without its last commits", () => {
  it("a done mark sent before the kill and resent to the Redis that came back is refused", async () => {
    const s = await setup();
    const kept = (await s.redis.get(s.keys.gen)) as string;
    await s.redis.save();
    let restarted: Promise<void> | undefined;
    // Once the catch-up's commits returned, Redis stops answering: the marks that follow get no reply before the kill.
    s.hooks.afterFold = async () => {
      s.stop();
      restarted = s.restart();
    };
    const result = await catchUp({ db: s.db, redis: s.redis, keys: s.keys, scoreStored: s.folding(kept) });
    await restarted;
    expect(result.folded).toBe(2);
    expect(await s.redis.exists(s.keys.lead("l2"))).toBe(0); // the catch-up's commit was lost with the kill
    expect(await s.redis.zscore(s.keys.journal.done, s.entry)).toBeNull();
    expect(result.marked).toBe(false);

    // The next catch-up finds the entry unfinished still, and folds its events.
    const generation = await ensureLiveState(s.options);
    expect(await generationIsCurrent(s.redis, generation)).toBe(true);
    expect(await s.audit()).toEqual([]);
  }, 90_000);

  it("the generation is not named current on the Redis that came back: the catch-up runs again", async () => {
    const s = await setup();
    // The snapshot holds the catch-up's lock, not its commits.
    s.hooks.beforeFold = () => s.redis.save().then(() => undefined);
    s.hooks.afterFold = s.restart;
    const generation = await ensureLiveState(s.options);
    expect(await generationIsCurrent(s.redis, generation)).toBe(true);
    expect(await s.audit()).toEqual([]);
    expect(s.catchUps()).toBe(2);
    expect(await unfinishedEntries({ db: s.db, redis: s.redis, keys: s.keys.journal })).toEqual([]);
  }, 90_000);
});
