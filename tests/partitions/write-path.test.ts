// LEAD_PARTITIONS on one Redis: the edge queues each lead's events on its partition's queue and claims each event id
// in its bucket's partition; the worker consumes every partition into that partition's live state, each queue with
// fetch slots of its own.
import { parseConfig, type QueuedEvent, WorkerConfigSchema } from "@leadscore/contracts";
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { createLiveReader, createPartitionedReader, liveKeys } from "@leadscore/live";
import {
  createRedis,
  EVENTS_QUEUE,
  type EventsJob,
  leadPartition,
  partitionPrefixes,
  queuedEventsKey,
  silentLogger,
} from "@leadscore/runtime";
import { createWorker, type Worker } from "@leadscore/worker";
import Queue from "bull";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createTestDb,
  createTestRedis,
  eventually,
  REDIS_URL,
  TEST_READ_TOKEN,
  testEdgeConfig,
  uniqueName,
} from "../../test-support/index.ts";
import { post } from "../../test-support/ingest.ts";

const MINUTE = 60_000;

/** Deletes every key of the deployment and of each of its partitions. */
async function dropKeys(prefixes: readonly string[]) {
  for (const prefix of prefixes) await (await createTestRedis(prefix)).cleanup();
}

function envOf(prefix: string, url: string, partitions: number) {
  return {
    NODE_ENV: "test",
    REDIS_URL,
    REDIS_PREFIX: prefix,
    MONGO_URL: url,
    LEAD_PARTITIONS: String(partitions),
    ADMIN_TOKEN: "test-admin-token",
    READ_TOKENS: TEST_READ_TOKEN,
    JOB_LOCK_MS: "2000",
  };
}

describe("when leads are spread over three partitions", () => {
  const prefix = uniqueName("parts");
  const prefixes = partitionPrefixes(prefix, 3);
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let redis: Redis;
  let edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  let worker: Worker;
  const leads = Array.from({ length: 24 }, (_, i) => `lead-${i}`);
  const t0 = Date.now() - 30 * MINUTE;

  beforeAll(async () => {
    database = await createTestDb();
    const env = envOf(prefix, database.url, 3);
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
    worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, { summaryEveryMs: 0 });
    await worker.start();
    edge = await createEdgeRuntime(testEdgeConfig(env), silentLogger);
    const events = leads.flatMap((lead, i) => [
      { event_id: `${lead}-a`, lead_id: lead, event_type: "purchase", timestamp: t0 + i },
      {
        event_id: `${lead}-b`,
        lead_id: lead,
        event_type: i % 2 ? "page_view" : "demo_request",
        timestamp: t0 + MINUTE,
      },
    ]);
    expect((await edge.app.request("/api/batch", post({ events }))).status).toBe(202);
  });

  afterAll(async () => {
    await edge?.close();
    await worker?.close();
    await dropKeys([prefix, ...prefixes]);
    redis?.disconnect();
    await database?.drop();
  });

  const partitionOf = (lead: string) => prefixes[leadPartition(lead, 3)] as string;

  it("scores every lead into its own partition's live state, and nowhere else", async () => {
    const reader = (lead: string) =>
      createLiveReader({ redis, redisPrefix: partitionOf(lead), cap: 1000, thresholds: [100, 300, 600] });
    const scores = await eventually(async () => {
      const found = await Promise.all(leads.map(async (lead) => (await reader(lead).lead(lead))?.score));
      return found.every((score) => score !== undefined) && found;
    }, 20_000);
    expect(scores).toEqual(leads.map((_, i) => (i % 2 ? 105 : 150)));
    for (const lead of leads) {
      const elsewhere = [prefix, ...prefixes.filter((each) => each !== partitionOf(lead))];
      const copies = await Promise.all(elsewhere.map((each) => redis.exists([liveKeys(each).lead(lead)])));
      expect(
        copies.every((copy) => copy === 0),
        lead,
      ).toBe(true);
    }
    // Every partition holds some of the leads, and its index only its own.
    for (const each of prefixes) {
      const ids = await redis.zrange(liveKeys(each).byScore, "0", "-1");
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.every((id) => partitionOf(id) === each)).toBe(true);
    }
  });

  it("answers a copy of an accepted event as a duplicate, its mark in its bucket's partition", async () => {
    const copy = await edge.app.request(
      "/api/events",
      post({ event_id: "lead-3-a", lead_id: "lead-3", event_type: "purchase", timestamp: t0 }),
    );
    expect(copy.status).toBe(200);
    expect(await copy.json()).toMatchObject({ duplicate: true });
    const buckets = await Promise.all(prefixes.map((each) => redis.keys(`${each}:dd:*`)));
    expect(buckets.every((keys) => keys.length > 0)).toBe(true);
    expect(await redis.keys(`${prefix}:dd:[0-9]*`)).toEqual([]);
  });

  it("merges two leads of one partition, and two leads of two partitions", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `merge-${i}`);
    const [first, ...rest] = ids as [string, ...string[]];
    const same = rest.find((id) => leadPartition(id, 3) === leadPartition(first, 3)) as string;
    const other = rest.find((id) => leadPartition(id, 3) !== leadPartition(first, 3)) as string;
    const events = [first, same, other].map((lead) => ({
      event_id: `${lead}-e`,
      lead_id: lead,
      event_type: "purchase",
    }));
    expect((await edge.app.request("/api/batch", post({ events }))).status).toBe(202);
    const reader = createPartitionedReader({
      redis,
      redisPrefix: prefix,
      partitions: 3,
      cap: 1000,
      thresholds: [100, 300, 600],
    });
    await eventually(async () => (await reader.leads([first, same, other])).length === 3);
    const identify = (anonymous: string, lead: string) =>
      edge.app.request("/api/identify", post({ anonymous_id: anonymous, lead_id: lead }));
    expect((await identify(same, first)).status).toBe(202);
    expect((await identify(other, first)).status).toBe(202);
    const merged = await eventually(async () => {
      const lead = await reader.lead(first);
      const gone = (await reader.lead(same)) === null && (await reader.lead(other)) === null;
      return gone && lead?.count === 3 && lead;
    });
    expect(merged.score).toBe(300);
  });

  it("counts each partition's queued events down to zero once scored", async () => {
    await eventually(async () => {
      const counts = await Promise.all(prefixes.map((each) => redis.get(queuedEventsKey(each))));
      return counts.every((count) => Number(count ?? 0) === 0);
    });
    // The edge's read adds the counts it has not written yet (gathered for 20 ms): it reaches zero too.
    await eventually(async () => (await edge.deps.ingestion?.queuedEvents.read()) === 0);
  });
});

describe("when one partition has a backlog", () => {
  const prefix = uniqueName("fair");
  const prefixes = partitionPrefixes(prefix, 2);
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let redis: Redis;
  let worker: Worker | undefined;
  const queues = prefixes.map((each) => new Queue<EventsJob>(EVENTS_QUEUE, REDIS_URL, { prefix: each }));

  beforeAll(async () => {
    database = await createTestDb();
    redis = createRedis({ REDIS_URL, REDIS_CLUSTER_NODES: [] });
  });

  afterEach(async () => {
    await worker?.close();
  });

  afterAll(async () => {
    await Promise.all(queues.map((queue) => queue.close()));
    await dropKeys([prefix, ...prefixes]);
    redis?.disconnect();
    await database?.drop();
  });

  it("scores another partition's event without waiting for the backlog", async () => {
    const crowded = Array.from({ length: 4000 }, (_, i) => `busy-${i}`).filter((id) => leadPartition(id, 2) === 0);
    const event = (lead: string, i: number): QueuedEvent => ({
      event_id: `${lead}-${i}`,
      lead_id: lead,
      event_type: "page_view",
      timestamp: Date.now() - MINUTE,
      received_at: Date.now(),
      metadata: {},
    });
    // A backlog of 200 jobs on partition 0, queued first; then one job on partition 1.
    const jobs = Array.from({ length: 200 }, (_, j) => ({
      data: { v: 1 as const, events: crowded.slice(j * 10, j * 10 + 10).map(event) },
    }));
    await queues[0]?.addBulk(jobs);
    const quiet = ["q-0", "q-1", "q-2", "q-3"].find((id) => leadPartition(id, 2) === 1) as string;
    await queues[1]?.add({ v: 1, events: [event(quiet, 0)] });

    const env = { ...envOf(prefix, database.url, 2), WORKER_CONCURRENCY: "2" };
    worker = await createWorker(parseConfig(WorkerConfigSchema, env), silentLogger, {
      summaryEveryMs: 0,
      maxBatchEvents: 20,
    });
    await worker.start();
    const reader = createLiveReader({
      redis,
      redisPrefix: prefixes[1] as string,
      cap: 1000,
      thresholds: [100, 300, 600],
    });
    await eventually(async () => (await reader.lead(quiet)) !== null, 20_000);
    // Partition 0 is still far from done: its backlog took none of partition 1's turns.
    const waiting = await queues[0]?.getWaitingCount();
    expect(waiting).toBeGreaterThan(100);
  });
});
