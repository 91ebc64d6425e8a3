// /metrics with lead partitions: the queue's gauges count every partition's queue, not partition 0's alone.
import { createEdgeRuntime } from "@leadscore/edge/runtime";
import { EVENTS_QUEUE, leadPartition, partitionPrefixes, silentLogger } from "@leadscore/runtime";
import Queue from "bull";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, createTestRedis, REDIS_URL, testEdgeConfig, uniqueName } from "../../test-support/index.ts";
import { post } from "../../test-support/ingest.ts";

const P = 3;

/** A gauge's value in Prometheus text, e.g. `leadscore_queue_jobs{state="waiting"}`. */
function gauge(text: string, name: string): number {
  const line = text.split("\n").find((each) => each.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe("the metrics of an edge over lead partitions, with no worker", () => {
  const prefix = uniqueName("metrics");
  const prefixes = partitionPrefixes(prefix, P);
  let database: Awaited<ReturnType<typeof createTestDb>>;
  let edge: Awaited<ReturnType<typeof createEdgeRuntime>>;
  const queues = prefixes.map((each) => new Queue(EVENTS_QUEUE, REDIS_URL, { prefix: each }));
  const leads = Array.from({ length: 12 }, (_, i) => `lead-${i}`);

  beforeAll(async () => {
    database = await createTestDb();
    edge = await createEdgeRuntime(
      testEdgeConfig({ REDIS_PREFIX: prefix, MONGO_URL: database.url, LEAD_PARTITIONS: String(P) }),
      silentLogger,
    );
    // One request a lead, each answered once its event is queued: a job in its partition's queue.
    for (const [i, lead] of leads.entries()) {
      const event = { event_id: `${lead}-e`, lead_id: lead, event_type: "page_view", timestamp: Date.now() - i };
      expect((await edge.app.request("/api/events", post(event))).status).toBe(202);
    }
  });

  afterAll(async () => {
    await edge?.close();
    await Promise.all(queues.map((queue) => queue.close()));
    for (const each of [prefix, ...prefixes]) await (await createTestRedis(each)).cleanup();
    await database?.drop();
  });

  it("counts the jobs waiting in every partition's queue", async () => {
    const partitions = new Set(leads.map((lead) => leadPartition(lead, P)));
    expect(partitions.size).toBeGreaterThan(1);
    const waiting = (await Promise.all(queues.map((queue) => queue.getWaitingCount()))).reduce((a, b) => a + b, 0);
    expect(waiting).toBeGreaterThanOrEqual(partitions.size);
    const text = await (await edge.app.request("/metrics")).text();
    expect(gauge(text, 'leadscore_queue_jobs{state="waiting"}')).toBe(waiting);
    expect(gauge(text, "leadscore_queue_depth")).toBe(leads.length);
    expect(gauge(text, "leadscore_queue_up")).toBe(1);
  });
});
