// An identify on a Redis Cluster of three masters with six lead partitions, the anonymous lead and the known one on
// different masters: the merge's two steps each run in their own slot, and the answers are those of one Redis.
import { parseConfig, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { auditLiveState } from "@leadscore/live/audit";
import { createRedis, leadPartition, silentLogger } from "@leadscore/runtime";
import { createWorker, type Worker } from "@leadscore/worker";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRedisCluster } from "../../scripts/redis-cluster.ts";
import { createTestDb, eventually, testEdgeConfig, uniqueName, withReadToken } from "../../test-support/index.ts";
import { post } from "../../test-support/ingest.ts";
import { clusterStackEnv, startTestRedisCluster } from "../../test-support/redis-cluster.ts";

const MINUTE = 60_000;
const P = 6;
/** Partition p's slot lies in the p-th sixth of the slots: with three masters' even ranges, on master ⌊p / 2⌋. */
const master = (id: string) => Math.floor(leadPartition(id, P) / 2);

describe("when an anonymous lead on one master is identified as a known lead on another", () => {
  let cluster: LocalRedisCluster;
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  let worker: Worker;
  let redis: Redis;
  const prefix = `{${uniqueName("cluster-identity")}}`;
  const known = "ada";
  const anonymous = Array.from({ length: 20 }, (_, n) => `anon-${n}`).find(
    (id) => master(id) !== master(known),
  ) as string;

  beforeAll(async () => {
    cluster = await startTestRedisCluster();
    database = await createTestDb();
    const env = clusterStackEnv(cluster, prefix, database.url, P);
    const config = parseConfig(WorkerConfigSchema, { ...env, JOB_LOCK_MS: "2000" });
    redis = createRedis(config);
    worker = await createWorker(config, silentLogger, { summaryEveryMs: 0, deepLaneIdleMs: 20 });
    await worker.start();
    edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
  });

  afterAll(async () => {
    await edge?.close();
    await worker?.close();
    redis?.disconnect();
    await cluster?.stop();
    await database?.drop();
  });

  const read = async <T>(path: string) => (await (await edge.app.request(path, withReadToken())).json()) as T;

  it("folds both leads' events into the known one, drops the anonymous one and sends its later events there", async () => {
    const t0 = Date.now() - 30 * MINUTE;
    const events = [
      ...[1, 2, 3].map((n) => ({
        event_id: `pv${n}`,
        lead_id: anonymous,
        event_type: "page_view",
        timestamp: t0 + n * MINUTE,
      })),
      { event_id: "form1", lead_id: known, event_type: "form_submission", timestamp: t0 + 4 * MINUTE },
    ];
    expect((await edge.app.request("/api/batch", post({ events }))).status).toBe(202);
    await eventually(async () => (await edge.deps.live.foldedEvents()) === 4, 30_000);
    const identify = await edge.app.request("/api/identify", post({ anonymous_id: anonymous, lead_id: known }));
    expect(identify.status).toBe(202);
    await eventually(
      async () => (await read<{ merged_from?: unknown[] }>(`/api/leads/${known}`)).merged_from !== undefined,
      30_000,
    );
    const later = { event_id: "pv5", lead_id: anonymous, event_type: "page_view", timestamp: t0 + 5 * MINUTE };
    expect((await edge.app.request("/api/events", post(later))).status).toBe(202);
    const lead = await eventually(async () => {
      const body = await read<{ event_count: number; current_score: number }>(`/api/leads/${known}`);
      return body.event_count === 5 && body;
    }, 30_000);
    expect(lead.current_score).toBe(40);
    expect((await read<{ _id: string }>(`/api/leads/${anonymous}`))._id).toBe(known);
    expect((await read<{ _id: string }[]>("/api/leads?limit=200")).map((each) => each._id)).toEqual([known]);
    const report = await auditLiveState({
      db: database.db,
      redis,
      redisPrefix: prefix,
      partitions: P,
      cap: 1000,
      thresholds: [100, 300, 600],
    });
    expect(report.problems).toEqual([]);
  }, 120_000);
});
