// The whole stack on a Redis Cluster of three masters (REDIS_CLUSTER_NODES): an edge, a worker and a realtime server
// built as their entry points build them, every connection from runtime's `createRedis`/`createQueue`. With one
// partition the deployment's keys share the prefix's hash slot, so they sit on one master; with six (LEAD_PARTITIONS)
// the leads are spread over every master. Either way the answers are those of one Redis.
import { parseConfig, RealtimeConfigSchema, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { createPartitionedReader, liveKeys, redisRunId } from "@leadscore/live";
import { auditLiveState } from "@leadscore/live/audit";
import { createRealtimeServer, type RealtimeServer } from "@leadscore/realtime";
import { createRedis, partitionPrefixes, redisPersistence, silentLogger } from "@leadscore/runtime";
import { createScorePublisher, createWorker, type Worker } from "@leadscore/worker";
import type { Redis } from "ioredis";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRedisCluster } from "../../scripts/redis-cluster.ts";
import {
  createTestDb,
  eventually,
  TEST_READ_TOKEN,
  testEdgeConfig,
  uniqueName,
  withReadToken,
} from "../../test-support/index.ts";
import { post } from "../../test-support/ingest.ts";
import { NODE_TS, type RunningProcess, startProcess } from "../../test-support/processes.ts";
import { type ClientSocket, connected, record } from "../../test-support/realtime-cluster.ts";
import { clusterStackEnv, startTestRedisCluster } from "../../test-support/redis-cluster.ts";
import { createReceiver, type Receiver } from "../../test-support/webhook-receiver.ts";

const MINUTE = 60_000;

describe.each([1, 6])("when the stack runs on a Redis Cluster with %i lead partition(s)", (partitions) => {
  let cluster: LocalRedisCluster;
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  let worker: Worker;
  let publisherRedis: Redis;
  let realtime: RealtimeServer;
  let socket: ClientSocket;
  let redis: Redis;
  let dispatcher: RunningProcess;
  let receiver: Receiver;
  let updates: ReturnType<typeof record<"score_update">>;
  let ingestion: Awaited<ReturnType<typeof ingest>>;
  const prefix = `{${uniqueName("cluster")}}`;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    database = await createTestDb();
    const env = clusterStackEnv(cluster, prefix, database.url, partitions);
    const workerConfig = parseConfig(WorkerConfigSchema, { ...env, JOB_LOCK_MS: "2000" });
    redis = createRedis(workerConfig);
    publisherRedis = createRedis(workerConfig);
    const live = createPartitionedReader({
      redis: publisherRedis,
      redisPrefix: prefix,
      partitions,
      cap: 1000,
      thresholds: [100, 300, 600],
    });
    const publisher = createScorePublisher({ redis: publisherRedis, live, redisPrefix: prefix, log: silentLogger });
    worker = await createWorker(workerConfig, silentLogger, {
      summaryEveryMs: 0,
      publisher,
      // Only the announcement on the cluster can bring a rule change within a test's wait.
      rulesReloadMs: 600_000,
    });
    await worker.start();
    edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
    realtime = createRealtimeServer(parseConfig(RealtimeConfigSchema, env), silentLogger);
    socket = io(`http://127.0.0.1:${await realtime.listen(0)}`, {
      transports: ["websocket"],
      forceNew: true,
      auth: { token: TEST_READ_TOKEN },
    });
    await connected(socket);
    // The webhook dispatcher as its own process, from its entry point.
    receiver = await createReceiver();
    const hook = await edge.app.request("/api/webhooks", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url, events: ["lead.stage_changed"] }),
    });
    expect(hook.status).toBe(201);
    dispatcher = startProcess(NODE_TS[0], [...NODE_TS.slice(1), "webhooks/src/main.ts"], { ...env, LOG_LEVEL: "info" });
    await dispatcher.waitFor(/dispatcher ready/, 60_000);
    updates = record(socket, "score_update");
    expect(await socket.emitWithAck("subscribe", { lead_id: "ada" })).toEqual({ ok: true });
    ingestion = await ingest();
    await eventually(async () => {
      const counts = await Promise.all(["ada", "bob", "cy", "gus"].map((id) => leadEvents(id)));
      return counts.join() === "3,1,1,1";
    });
  });

  /** Events of four leads (with six partitions, on every master), one of them late, then a copy of one accepted. */
  async function ingest() {
    const t0 = Date.now() - 10 * MINUTE;
    const events = [
      { event_id: "ada-1", lead_id: "ada", event_type: "purchase", timestamp: t0 },
      { event_id: "ada-3", lead_id: "ada", event_type: "demo_request", timestamp: t0 + 2 * MINUTE },
      { event_id: "bob-1", lead_id: "bob", event_type: "form_submission", timestamp: t0 },
      { event_id: "cy-1", lead_id: "cy", event_type: "page_view", timestamp: t0 },
      { event_id: "gus-1", lead_id: "gus", event_type: "page_view", timestamp: t0 + MINUTE },
    ];
    const batch = await edge.app.request("/api/batch", post({ events }));
    const late = { event_id: "ada-2", lead_id: "ada", event_type: "form_submission", timestamp: t0 + MINUTE };
    const lateResponse = await edge.app.request("/api/events", post(late));
    const copy = await edge.app.request("/api/events", post(events[0]));
    const copyBody = (await copy.json()) as { duplicate?: boolean };
    return { batch: batch.status, late: lateResponse.status, copy: copy.status, copyDuplicate: copyBody.duplicate };
  }

  async function leadEvents(id: string): Promise<number> {
    const response = await edge.app.request(`/api/leads/${id}`, withReadToken());
    return response.status === 200 ? ((await response.json()) as { event_count: number }).event_count : 0;
  }

  afterAll(async () => {
    socket?.disconnect();
    await dispatcher?.stop();
    await receiver?.close();
    await realtime?.close();
    await edge?.close();
    await worker?.close();
    publisherRedis?.disconnect();
    redis?.disconnect();
    await cluster?.stop();
    await database?.drop();
  });

  const read = async <T>(path: string) => {
    const response = await edge.app.request(path, withReadToken());
    expect(response.status, path).toBe(200);
    return { body: (await response.json()) as T, headers: response.headers };
  };

  it("answers the ingestion calls as on one Redis: accepted, then a copy a duplicate", () => {
    expect(ingestion).toEqual({ batch: 202, late: 202, copy: 200, copyDuplicate: true });
  });

  it("scores in event-time order and answers the lead, its history, lists, leaderboard and stats", async () => {
    const ada = (await read<Record<string, unknown>>("/api/leads/ada")).body;
    expect(ada).toMatchObject({ current_score: 170, rank: 1, stage: "warm", event_count: 3 });
    const history = await read<{ event_id: string; score: number }[]>("/api/leads/ada/history?order=asc");
    expect(history.body.map((entry) => [entry.event_id, entry.score])).toEqual([
      ["ada-1", 100],
      ["ada-2", 120],
      ["ada-3", 170],
    ]);
    const list = await read<{ _id: string; current_score: number }[]>("/api/leads?sort=-score&limit=2");
    expect(list.body.map((lead) => [lead._id, lead.current_score])).toEqual([
      ["ada", 170],
      ["bob", 20],
    ]);
    expect(list.headers.get("x-total-count")).toBe("4");
    expect(list.headers.get("link")).toMatch(/cursor=/);
    const board = await read<{ _id: string }[]>("/api/leads/leaderboard?limit=10");
    expect(board.body.map((lead) => lead._id)).toEqual(["ada", "bob", "cy", "gus"]);
    expect((await read("/api/stats")).body).toMatchObject({ leads: 4, by_stage: { cold: 3, warm: 1 } });
    expect((await read<unknown[]>("/api/leads?stage=warm")).body).toHaveLength(1);
  });

  it("pushes the lead's new score to a dashboard subscribed to it", async () => {
    const pushed = await eventually(async () => updates.find((update) => update.payload.current_score === 170));
    expect(pushed.payload).toMatchObject({ lead_id: "ada", stage: "warm" });
  });

  it("delivers the stage change to a webhook receiver through a dispatcher on the cluster", async () => {
    const delivered = await eventually(async () => receiver.received.find((hit) => hit.json.data.lead_id === "ada"));
    expect(delivered.json).toMatchObject({
      type: "lead.stage_changed",
      data: { lead_id: "ada", from_stage: "cold", to_stage: "warm" },
    });
  });

  it("brings a rule change to the worker through the cluster's pub/sub", async () => {
    const created = await edge.app.request("/api/rules", {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ event_type: "webinar", points: 7, label: "Webinar" }),
    });
    expect(created.status).toBe(201);
    const candidates = await eventually(async () => {
      const matched = worker.rules.current().match({ event_type: "webinar" });
      return matched.length > 0 && matched;
    });
    expect(candidates).toHaveLength(1);
  });

  it("keeps the live state equal to the fold of the stored events", async () => {
    const report = await auditLiveState({
      db: database.db,
      redis,
      redisPrefix: prefix,
      partitions,
      cap: 1000,
      thresholds: [100, 300, 600],
    });
    expect(report.problems).toEqual([]);
    expect(report.leads).toBeGreaterThan(0);
  });

  it("names every master's run in the live state's generation, so a restart of any one makes it stale", async () => {
    const runIds = (await redisRunId(redis)).split(".");
    expect(runIds).toHaveLength(cluster.nodes.length);
    expect(new Set(runIds).size).toBe(cluster.nodes.length);
    const first = partitionPrefixes(prefix, partitions)[0] as string;
    expect(await redis.get(liveKeys(first).gen)).toMatch(new RegExp(`^${runIds.join("\\.")}:`));
  });

  it("judges Redis's persistence by the master that keeps least, whichever it is", async () => {
    expect(await redisPersistence(redis)).toMatchObject({ aof: true, volatile: false });
    for (const { host, port } of cluster.nodes) {
      const node = createRedis({ REDIS_URL: `redis://${host}:${port}`, REDIS_CLUSTER_NODES: [] });
      try {
        await node.config("SET", "appendonly", "no");
        expect(await redisPersistence(redis), `${port}`).toMatchObject({ aof: false, volatile: true });
      } finally {
        await node.config("SET", "appendonly", "yes");
        node.disconnect();
      }
    }
  });

  /** How many keys matching `pattern` each master holds. */
  async function keysPerMaster(pattern: string): Promise<number[]> {
    const perMaster: number[] = [];
    for (const node of cluster.nodes) {
      const direct = createRedis({ REDIS_URL: `redis://${node.host}:${node.port}`, REDIS_CLUSTER_NODES: [] });
      let found = 0;
      let cursor = "0";
      do {
        const [next, keys] = await direct.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        cursor = next;
        found += keys.length;
      } while (cursor !== "0");
      direct.disconnect();
      perMaster.push(found);
    }
    return perMaster;
  }

  it.runIf(partitions === 1)("keeps every key of the deployment on the master serving the prefix's slot", async () => {
    const perMaster = await keysPerMaster(`${prefix}*`);
    expect(perMaster.filter((count) => count > 0)).toHaveLength(1);
    expect(Math.max(...perMaster)).toBeGreaterThan(10);
  });

  it.runIf(partitions > 1)("gives every master a share of the leads", async () => {
    const leads = await keysPerMaster(`{${prefix.replace(/[{}]/g, "")}:p*:live:lead:*`);
    expect(leads.every((count) => count > 0)).toBe(true);
    expect(leads.reduce((sum, count) => sum + count, 0)).toBe(4);
  });
});
