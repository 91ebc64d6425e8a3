// Reads over lead partitions answer as one partition does: the same live state laid out once under REDIS_PREFIX and
// once over six partitions gives the same pages, cursors, counts, ranks, leaderboard and stats — every lead of the
// six partitions idle (live/src/idle.ts: its history shed, out of the global activity indexes), none of the one's.
import { parseConfig, STAGES, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { IDLE_MARK, type LiveKeys, liveKeys, shrinkIdleLeads } from "@leadscore/live";
import { createRedis, leadPartition, partitionPrefixes, silentLogger } from "@leadscore/runtime";
import { createWorker } from "@leadscore/worker";
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDb,
  createTestRedis,
  eventually,
  REDIS_URL,
  testEdgeConfig,
  uniqueName,
  withReadToken,
} from "../../test-support/index.ts";
import { post } from "../../test-support/ingest.ts";
import { walkPages } from "../../test-support/pages.ts";
import { deploymentEnv, tiedEvents } from "../../test-support/partition-fixtures.ts";
import { propertyRuns } from "../../test-support/property.ts";

const P = 6;

/** Copies one layout's live state of `ids` into the lead partitions' keys, value for value. */
async function relayout(redis: Redis, from: LiveKeys, partitions: readonly LiveKeys[], ids: readonly string[]) {
  const sets = (keys: LiveKeys) => [
    keys.byScore,
    keys.byUpdated,
    keys.byLastEvent,
    ...STAGES.flatMap((stage) => [keys.byUpdatedIn(stage), keys.byLastEventIn(stage)]),
  ];
  for (const id of ids) {
    const into = partitions[leadPartition(id, partitions.length)] as LiveKeys;
    await redis.hset(into.lead(id), await redis.hgetall(from.lead(id)));
    const target = sets(into);
    const values = await Promise.all(sets(from).map((key) => redis.zscore(key, id)));
    await Promise.all(values.map((value, i) => (value === null ? null : redis.zadd(target[i] as string, value, id))));
  }
  for (const keys of [from, ...partitions]) await redis.set(keys.gen, (await redis.get(from.gen)) ?? "");
}

describe("when the same leads are read from one partition and from six", () => {
  const prefix = uniqueName("reads");
  const prefixes = partitionPrefixes(prefix, P);
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let redis: Redis;
  let one: Awaited<ReturnType<typeof createEdgeRuntime>>;
  let six: Awaited<ReturnType<typeof createEdgeRuntime>>;
  const leads = Array.from({ length: 90 }, (_, i) => `lead-${String(i).padStart(3, "0")}`);

  beforeAll(async () => {
    database = await createTestDb();
    const env = deploymentEnv(prefix, database.url);
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
    // One partition's live state, folded by a worker from events with ties in score and in time.
    const worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, { summaryEveryMs: 0 });
    await worker.start();
    one = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
    const events = tiedEvents(leads, Date.now() - 3_600_000, 4);
    expect((await one.app.request("/api/batch", post({ events }))).status).toBe(202);
    await eventually(async () => (await redis.zcard(liveKeys(prefix).byScore)) === leads.length, 20_000);
    await eventually(async () => {
      const counts = await Promise.all(leads.map((lead) => redis.hget(liveKeys(prefix).lead(lead), "n")));
      return counts.every((count) => count !== null);
    });
    await one.flush();
    await worker.close();
    // Every event is folded (the audit of the count field would be the worker's business; this waits for it).
    await eventually(async () => (await one.deps.live.foldedEvents()) === events.length, 20_000);
    await relayout(
      redis,
      liveKeys(prefix),
      prefixes.map((each) => liveKeys(each)),
      leads,
    );
    six = await createEdgeRuntime(testEdgeConfig({ ...env, LEAD_PARTITIONS: String(P) }), silentLogger);
    const idleAt = () => Date.now() + 1;
    for (const each of prefixes) {
      await shrinkIdleLeads({ redis, db: database.db, keys: liveKeys(each), idleMs: 0, now: idleAt });
    }
  });

  afterAll(async () => {
    await one?.close();
    await six?.close();
    for (const each of [prefix, ...prefixes]) await (await createTestRedis(each)).cleanup();
    redis?.disconnect();
    await database?.drop();
  });

  /** Every page of a list, following its cursors, with each page's total. */
  async function walk(app: typeof one.app, path: string) {
    return (await walkPages(app, path)).map(({ body, total }) => ({
      ids: body.map((lead) => (lead as { _id: string })._id),
      total,
    }));
  }

  it("lays the leads out over every partition", async () => {
    const held = await Promise.all(prefixes.map((each) => redis.zcard(liveKeys(each).byScore)));
    expect(held.every((count) => count > 0)).toBe(true);
    expect(held.reduce((sum, count) => sum + count, 0)).toBe(leads.length);
  });

  it("keeps the six partitions' idle leads in the score and stage indexes only", async () => {
    for (const keys of prefixes.map((each) => liveKeys(each))) {
      const [ranked, updated, lastEvent, ...inStages] = await Promise.all([
        redis.zcard(keys.byScore),
        redis.zcard(keys.byUpdated),
        redis.zcard(keys.byLastEvent),
        ...STAGES.flatMap((stage) => [redis.zcard(keys.byUpdatedIn(stage)), redis.zcard(keys.byLastEventIn(stage))]),
      ]);
      expect([updated, lastEvent]).toEqual([0, 0]);
      expect(inStages.reduce((sum, count) => sum + count, 0)).toBe(2 * ranked);
    }
    const marked = await Promise.all(
      leads.map((lead) => redis.hexists(liveKeys(prefixes[leadPartition(lead, P)] as string).lead(lead), IDLE_MARK)),
    );
    expect(marked.every((one) => one === 1)).toBe(true);
  });

  it("gives every list, filter, sort and cursor the same pages and counts", async () => {
    const sorts = ["-score", "score", "-updated_at", "updated_at", "-last_event_at", "last_event_at"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...sorts),
        fc.integer({ min: 1, max: 40 }),
        fc.option(fc.constantFrom(...STAGES), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }),
        async (sort, limit, stage, min, max) => {
          const query = new URLSearchParams({ sort, limit: String(limit) });
          if (stage) query.set("stage", stage);
          if (min !== undefined) query.set("min_score", String(min));
          if (max !== undefined && (min === undefined || max >= min)) query.set("max_score", String(max));
          const path = `/api/leads?${query}`;
          expect(await walk(six.app, path)).toEqual(await walk(one.app, path));
        },
      ),
      propertyRuns(25),
    );
  });

  it("exports the same rows in the same order", async () => {
    for (const path of ["/api/leads/export.csv?sort=-score", "/api/leads/export.csv?sort=last_event_at&stage=cold"]) {
      const [a, b] = await Promise.all(
        [one, six].map(async (edge) => (await edge.app.request(path, withReadToken())).text()),
      );
      expect((a ?? "").split("\n").length, path).toBeGreaterThan(2);
      expect(b, path).toEqual(a);
    }
  });

  it("gives every lead the same rank, and the same leaderboard and stats", async () => {
    for (const lead of leads) {
      const [a, b] = await Promise.all(
        [one, six].map(async (edge) => (await edge.app.request(`/api/leads/${lead}`, withReadToken())).json()),
      );
      expect(b, lead).toEqual(a);
    }
    for (const path of ["/api/leads/leaderboard?limit=7", "/api/leads/leaderboard?limit=100", "/api/stats"]) {
      const [a, b] = await Promise.all(
        [one, six].map(async (edge) => (await edge.app.request(path, withReadToken())).json()),
      );
      expect(b, path).toEqual(a);
    }
  });
});
