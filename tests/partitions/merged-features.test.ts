// Decay, idle leads and re-scores over lead partitions: a read is answered at one instant for every partition, and a
// retroactive publish re-scores every partition's leads, each committed in its own.

import { parseConfig, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { createPartitionedReader } from "@leadscore/live";
import { createRedis, partitionPrefixes, silentLogger } from "@leadscore/runtime";
import { createWorker, type Worker } from "@leadscore/worker";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDb,
  createTestRedis,
  eventually,
  REDIS_URL,
  TEST_READ_TOKEN,
  testEdgeConfig,
  uniqueName,
  withReadToken,
} from "../../test-support/index.ts";
import { post } from "../../test-support/ingest.ts";

describe("a read over six lead partitions with decay", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
  });
  afterAll(() => redis?.disconnect());

  it("takes the instant once and hands it to every partition's ranges, counts and scores", async () => {
    let asked = 0;
    const live = createPartitionedReader({
      redis,
      redisPrefix: uniqueName("instant"),
      partitions: 6,
      cap: 1000,
      thresholds: [100, 300, 600],
      halfLife: () => 86_400,
      now: () => {
        asked += 1;
        return Date.parse("2026-03-01T12:00:00.000Z") + asked * 86_400_000;
      },
    });
    const reads: [string, () => Promise<unknown>][] = [
      ["list", () => live.list({ sort: "score", limit: 10, minScore: 50, stage: "warm" })],
      ["listPositions", () => live.listPositions({ sort: "-updated_at", limit: 10, maxScore: 500 })],
      ["countByStage", () => live.countByStage()],
      ["histogram", () => live.histogram(100)],
      ["leaderboard", () => live.leaderboard(5)],
    ];
    for (const [name, read] of reads) {
      asked = 0;
      await read();
      expect(asked, name).toBe(1);
    }
    asked = 0;
    await live.list({ sort: "score", limit: 10, at: Date.now() });
    expect(asked).toBe(0);
  });
});

describe("a retroactive publish over six lead partitions", () => {
  const prefix = uniqueName("republish");
  const leads = Array.from({ length: 40 }, (_, i) => `lead-${String(i).padStart(3, "0")}`);
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  let worker: Worker;
  const admin = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
  const call = (method: string, path: string, body?: unknown) =>
    edge.app.request(path, { method, headers: admin, body: body === undefined ? undefined : JSON.stringify(body) });
  const t0 = Date.now() - 3_600_000;
  /** Lead i: i % 4 demo requests and 1 + i % 5 page views. */
  const history = leads.flatMap((lead, i) =>
    [
      ...Array.from({ length: i % 4 }, () => "demo_request"),
      ...Array.from({ length: 1 + (i % 5) }, () => "page_view"),
    ].map((type, n) => ({ event_id: `${lead}-${n}`, lead_id: lead, event_type: type, timestamp: t0 + n * 60_000 })),
  );

  beforeAll(async () => {
    database = await createTestDb();
    const env = {
      NODE_ENV: "test",
      REDIS_URL,
      REDIS_PREFIX: prefix,
      MONGO_URL: database.url,
      ADMIN_TOKEN: "test-admin-token",
      READ_TOKENS: TEST_READ_TOKEN,
      JOB_LOCK_MS: "2000",
      LEAD_PARTITIONS: "6",
    };
    worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, {
      summaryEveryMs: 0,
      rescorePollMs: 50,
    });
    await worker.start();
    edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
    expect((await edge.app.request("/api/batch", post({ events: history }))).status).toBe(202);
    await eventually(async () => (await edge.deps.live.foldedEvents()) === history.length, 30_000);
  }, 60_000);
  afterAll(async () => {
    await edge?.close();
    await worker?.close();
    for (const each of [prefix, ...partitionPrefixes(prefix, 6)]) await (await createTestRedis(each)).cleanup();
    await database?.drop();
  });

  it("re-scores every partition's leads, its progress summed over them, while events keep arriving", async () => {
    expect((await call("POST", "/api/rule-sets/draft")).status).toBe(201);
    const draft = (await (await call("GET", "/api/rule-sets/draft")).json()) as {
      rules: { event_type: string; points: number }[];
    };
    const rules = draft.rules.map((rule) => (rule.event_type === "demo_request" ? { ...rule, points: 100 } : rule));
    expect((await call("PUT", "/api/rule-sets/draft", { rules, groups: [] })).status).toBe(200);
    const response = await call("POST", "/api/rule-sets/draft/publish", { mode: "retroactive" });
    expect(response.status).toBe(202);
    const published = (await response.json()) as { version: number; rescore: { id: string } };
    // A demo request for every fourth lead meanwhile, in each partition: scored under the version once.
    const live = leads
      .filter((_, i) => i % 4 === 0)
      .map((lead) => ({
        event_id: `${lead}-live`,
        lead_id: lead,
        event_type: "demo_request",
        timestamp: t0 + 30 * 60_000,
      }));
    expect((await edge.app.request("/api/batch", post({ events: live }))).status).toBe(202);
    type Job = { state: string; progress: { leads_total: number; leads_done: number; leads_changed: number } };
    const job = await eventually(async () => {
      const read = (await (await call("GET", `/api/rule-sets/rescores/${published.rescore.id}`)).json()) as Job;
      return read.state === "done" && read;
    }, 60_000);
    await eventually(async () => (await edge.deps.live.foldedEvents()) === history.length + live.length, 30_000);
    expect(job.progress.leads_total).toBe(leads.length);
    expect(job.progress.leads_done).toBe(leads.length);
    // Every lead with a demo request moved: 30 of the 40.
    expect(job.progress.leads_changed).toBe(leads.filter((_, i) => i % 4 !== 0).length);
    for (const [i, lead] of leads.entries()) {
      const demos = (i % 4) + (i % 4 === 0 ? 1 : 0);
      const score = (
        (await (await edge.app.request(`/api/leads/${lead}`, withReadToken())).json()) as {
          current_score: number;
        }
      ).current_score;
      expect(score, lead).toBe(demos * 100 + (1 + (i % 5)) * 5);
      const entries = (await (
        await edge.app.request(`/api/leads/${lead}/history?limit=200`, withReadToken())
      ).json()) as { cause: string; rules_version: number | null }[];
      expect(
        entries.every((entry) => entry.rules_version === published.version),
        lead,
      ).toBe(true);
    }
  }, 120_000);
});
