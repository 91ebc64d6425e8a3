// Searches, movements, readiness and the rebuild over lead partitions answer as one partition does: two deployments,
// one with LEAD_PARTITIONS=1 and one with 6, each its own Redis prefix and database, are fed the same profiles and
// events by their own edge and worker, and then asked the same questions.
import { parseConfig, type Stage, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { liveKeys, readMovements } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { createRedis, partitionPrefixes, serversOf, silentLogger } from "@leadscore/runtime";
import { createWorker, rebuildEveryPartition } from "@leadscore/worker";
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
import { type ListPage, walkPages } from "../../test-support/pages.ts";
import { deploymentEnv, feedDeployment, removeDeployment, tiedEvents } from "../../test-support/partition-fixtures.ts";

const P = 6;
const COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Acme Labs"];
// Events an hour back, the same instants for both deployments.
const T0 = Date.now() - 3_600_000;
const leads = Array.from({ length: 60 }, (_, i) => `lead-${String(i).padStart(3, "0")}`);
// Leads 0–44 have a profile; the others only events (a `q` search finds them by id).
const profiled = leads.slice(0, 45);

interface Deployment {
  prefix: string;
  partitions: number;
  env: Record<string, string>;
  database: Awaited<ReturnType<typeof createTestDb>>;
  edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
}

/** A deployment fed the suite's profiles and events by its own edge and worker; the worker is closed once folded. */
async function deploy(partitions: number): Promise<Deployment> {
  const prefix = uniqueName(`admin-reads-${partitions}`);
  const database = await createTestDb();
  const env = deploymentEnv(prefix, database.url, { LEAD_PARTITIONS: String(partitions) });
  const worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, { summaryEveryMs: 0 });
  await worker.start();
  const edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
  await feedDeployment(edge, profiled, COMPANIES, tiedEvents(leads, T0, 5));
  await worker.close();
  return { prefix, partitions, env, database, edge };
}

/** Pages as both deployments give them: without the times of their own commits (`created_at`, `updated_at`). */
const rows = (pages: ListPage[]) =>
  pages.map(({ body, total }) => ({
    total,
    body: body.map((lead) => {
      const { created_at: _created, updated_at: _updated, ...rest } = lead as Record<string, unknown>;
      return rest;
    }),
  }));

/** CSV rows without their last two columns (`created_at`, `updated_at`). */
const csvRows = (text: string) => text.split("\n").map((line) => line.split(",").slice(0, -2).join(","));

/** A movement as both deployments record it (their stream ids and commit times differ). */
const movementOf = (movement: unknown) => {
  const { lead_id, from, to, event_id, score } = movement as Record<string, unknown>;
  return `${lead_id} ${from}→${to} ${event_id} ${score}`;
};

async function deleteLiveKeys(redis: Redis, prefix: string) {
  for (const server of await serversOf(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", liveKeys(prefix).pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await server.del(...keys);
    } while (cursor !== "0");
  }
}

describe("when one partition and six are fed the same profiles and events", () => {
  let redis: Redis;
  let one: Deployment;
  let six: Deployment;

  beforeAll(async () => {
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
    [one, six] = await Promise.all([deploy(1), deploy(P)]);
  }, 120_000);

  afterAll(async () => {
    for (const each of [one, six]) {
      if (each) await removeDeployment(each);
    }
    redis?.disconnect();
  });

  /** Asks both deployments; expects the same pages. */
  async function same(path: string, view: (pages: ListPage[]) => unknown = rows) {
    const [a, b] = await Promise.all([walkPages(one.edge.app, path), walkPages(six.edge.app, path)]);
    expect(view(b), path).toEqual(view(a));
    return a;
  }

  it("spreads the profiled leads' search texts over every partition", async () => {
    const held = await Promise.all(
      partitionPrefixes(six.prefix, P).map((prefix) => redis.hlen(liveKeys(prefix).searchTexts)),
    );
    expect(held.filter((count) => count > 0).length).toBe(P);
    expect(held.reduce((sum, count) => sum + count, 0)).toBe(profiled.length);
  });

  it("gives every company and q search, in every sort and page size, the same pages and totals", async () => {
    const searches = ["company=acme", "company=Globex", "q=person%201", "q=lead-05", "q=example", "q=lead"];
    const sorts = ["-score", "score", "-last_event_at", "last_event_at"];
    for (const [n, search] of searches.entries()) {
      const path = `/api/leads?${search}&sort=${sorts[n % sorts.length]}&limit=${[4, 7, 13][n % 3]}`;
      const pages = await same(path);
      expect(pages.flatMap((page) => page.body).length, path).toBeGreaterThan(0);
    }
    await same("/api/leads?q=person&stage=cold&sort=-score&limit=5", rows);
    await same("/api/leads?company=acme&min_score=20&sort=score&limit=3", rows);
  }, 90_000);

  it("exports the same search rows in the same order", async () => {
    for (const path of ["/api/leads/export.csv?q=example&sort=-score", "/api/leads/export.csv?company=acme"]) {
      const [a, b] = await Promise.all(
        [one, six].map(async ({ edge }) => (await edge.app.request(path, withReadToken())).text()),
      );
      expect(a?.split("\n").length, path).toBeGreaterThan(2);
      expect(csvRows(b ?? ""), path).toEqual(csvRows(a ?? ""));
    }
  });

  it("lists the same movements, each once, whatever the page size", async () => {
    const all = await same("/api/movements?limit=200", (pages) =>
      pages.flatMap((page) => page.body.map(movementOf)).sort(),
    );
    expect(all.flatMap((page) => page.body).length).toBeGreaterThan(5);
    for (const stage of [undefined, "warm", "hot"]) {
      const path = `/api/movements?limit=3${stage ? `&stage=${stage}` : ""}`;
      const [paged, whole] = await Promise.all([
        walkPages(six.edge.app, path),
        walkPages(six.edge.app, path.replace("limit=3", "limit=200")),
      ]);
      expect(paged.flatMap((page) => page.body)).toEqual(whole.flatMap((page) => page.body));
      await same(path, (pages) => pages.flatMap((page) => page.body.map(movementOf)).sort());
    }
  });

  it("is ready only while every partition's live state is current", async () => {
    for (const { edge } of [one, six]) expect((await edge.app.request("/readyz")).status).toBe(200);
    const keys = liveKeys(partitionPrefixes(six.prefix, P)[4] as string);
    const generation = (await redis.get(keys.gen)) as string;
    try {
      await redis.set(keys.gen, "rebuilding:elsewhere");
      const response = await six.edge.app.request("/readyz");
      expect(response.status).toBe(503);
      const body = (await response.json()) as { checks: { live: Record<string, unknown> } };
      expect(body.checks.live).toMatchObject({ ok: false, state: "rebuilding", partition: 4 });
    } finally {
      await redis.set(keys.gen, generation);
    }
    expect((await six.edge.app.request("/readyz")).status).toBe(200);
  });

  it("rebuilds every partition from MongoDB, and the audit checks every partition", async () => {
    const options = {
      db: six.database.db,
      redis,
      redisPrefix: six.prefix,
      partitions: P,
      cap: six.edge.deps.config.SCORE_CAP,
      thresholds: six.edge.deps.config.STAGE_THRESHOLDS,
    };
    for (const prefix of partitionPrefixes(six.prefix, P)) await deleteLiveKeys(redis, prefix);
    const result = await rebuildEveryPartition({ ...options, log: silentLogger });
    expect(result.generations).toHaveLength(P);
    expect(result.leads).toBe(leads.length);
    expect((await six.edge.app.request("/readyz")).status).toBe(200);
    await same("/api/leads?sort=-score&limit=9", rows);
    await same("/api/leads?q=example&sort=score&limit=6", rows);
    const report = await auditLiveState(options);
    expect(report.problems).toEqual([]);
    expect(report.leads).toBe(leads.length);
  }, 120_000);

  it("has a worker that finds every partition's live state missing rebuild each of them", async () => {
    for (const prefix of partitionPrefixes(six.prefix, P)) await deleteLiveKeys(redis, prefix);
    expect((await six.edge.app.request("/readyz")).status).toBe(503);
    const worker = await createWorker(parseConfig(WorkerConfigSchema, six.env), silentLogger, { summaryEveryMs: 0 });
    try {
      await worker.start();
      await eventually(async () => (await six.edge.app.request("/readyz")).status === 200, 100_000);
      // Bull names a worker's blocking connection after it starts processing, unawaited: a close before that name is
      // set rejects it unhandled. Every partition's queue shows its worker once it is.
      const queues = six.edge.deps.partitionQueues ?? [];
      await eventually(async () => {
        const workers = await Promise.all(queues.map((queue) => queue.getWorkers()));
        return workers.every((each) => (each?.length ?? 0) > 0);
      });
    } finally {
      await worker.close();
    }
    await same("/api/leads?sort=-score&limit=11", rows);
    await same("/api/leads?company=acme&sort=-score&limit=4", rows);
  }, 120_000);
});

describe("movements of several partitions that share a stream id", () => {
  const prefix = uniqueName("movement-ties");
  const prefixes = partitionPrefixes(prefix, 3);
  let redis: Redis;
  beforeAll(async () => {
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
    const stages: Stage[] = ["warm", "hot"];
    for (const [p, each] of prefixes.entries()) {
      for (const stage of stages) {
        for (const id of ["1000-0", "1000-1", "2000-0"]) {
          const e = JSON.stringify([`e-${p}-${stage}-${id}`, "demo_request", 1, 50]);
          await redis.xadd(`${each}:movements:${stage}`, id, "lead", `lead-${p}`, "from", "cold", "at", "1", "e", e);
        }
      }
    }
  });
  afterAll(async () => {
    for (const each of prefixes) await (await createTestRedis(each)).cleanup();
    redis?.disconnect();
  });

  it("pages through every one of them once, one at a time", async () => {
    const seen: string[] = [];
    let after: Awaited<ReturnType<typeof readMovements>>["next"] = null;
    do {
      const page = await readMovements(redis, prefixes, { since: 0, limit: 1, after });
      seen.push(...page.movements.map((movement) => movement.event_id));
      after = page.next;
    } while (after !== null && seen.length < 100);
    const whole = await readMovements(redis, prefixes, { since: 0, limit: 100, after: null });
    expect(seen).toHaveLength(18);
    expect(new Set(seen).size).toBe(18);
    expect(seen).toEqual(whole.movements.map((movement) => movement.event_id));
  });
});
