// One client's event the store refuses, sent among 1,000 concurrent honest ones through the edge, which packs
// concurrent requests into shared jobs: the poison lands in a job beside honest events, and every honest event must
// still be scored exactly once, the poison kept as a dead letter and never scored, and no job may fail.
import {
  COLLECTIONS,
  type EventDocument,
  parseConfig,
  type QueuedEvent,
  WorkerConfigSchema,
} from "@leadscore/contracts";
import { type EventsJob, silentLogger } from "@leadscore/runtime";
import { createWorker, type Worker } from "@leadscore/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { eventually, REDIS_URL } from "../../test-support/index.ts";
import { auditAll, historyOf, leadOf } from "../../test-support/worker-stack.ts";

const LEADS = 100;
const PER_LEAD = 10;
const WRITE = { "content-type": "application/json", authorization: "Bearer test-write-key" };
const ADMIN = { authorization: "Bearer test-admin-token" };
const T0 = Date.parse("2026-02-01T00:00:00Z");

let edge: Awaited<ReturnType<typeof createTestEdge>>;
let worker: Worker | undefined;

beforeAll(async () => {
  // Nested arrays let through, as a deployment on MongoDB would: FerretDB then refuses the event in the worker.
  edge = await createTestEdge({ METADATA_ALLOW_NESTED_ARRAYS: "true" });
});

afterAll(async () => {
  await worker?.close();
  await edge?.close();
});

const honest = Array.from({ length: LEADS * PER_LEAD }, (_, i) => ({
  event_id: `honest-${i}`,
  lead_id: `victim-${i % LEADS}`,
  event_type: "page_view",
  timestamp: T0 + i,
  metadata: { n: i },
}));
const poison = {
  event_id: "poison-1",
  lead_id: "victim-7",
  event_type: "purchase",
  timestamp: T0,
  metadata: { m: [[1]] },
};

describe("when one event the store refuses is sent among 1,000 concurrent honest ones", () => {
  it("scores every honest event exactly once and keeps the poison as a dead letter", async () => {
    const bodies = [...honest.slice(0, 500), poison, ...honest.slice(500)];
    const answers = await Promise.all(
      bodies.map((event) =>
        edge.app.request("/api/events", { method: "POST", headers: WRITE, body: JSON.stringify(event) }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(bodies.map(() => 202));

    // The precondition that makes this a test: the poison shares its job with honest events.
    const waiting = await edge.queue.getWaiting(0, -1);
    const jobOfPoison = waiting.find((job) =>
      (job.data as EventsJob).events.some((event: QueuedEvent) => event.event_id === poison.event_id),
    );
    expect((jobOfPoison?.data as EventsJob | undefined)?.events.length).toBeGreaterThan(1);

    const config = parseConfig(WorkerConfigSchema, {
      NODE_ENV: "test",
      REDIS_URL,
      MONGO_URL: edge.deps.config.MONGO_URL,
      REDIS_PREFIX: edge.deps.config.REDIS_PREFIX,
      LOG_LEVEL: "error",
      METRICS_PORT: "0",
    });
    worker = await createWorker(config, silentLogger, { summaryEveryMs: 0 });
    await worker.start();
    await eventually(async () => {
      const counts = await edge.queue.getJobCounts();
      return counts.waiting + counts.active + counts.delayed === 0;
    }, 60_000);

    const counts = await edge.queue.getJobCounts();
    expect(counts.failed).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^leadscore_worker_events_scored_total 1000$/m);
    expect(metrics).toMatch(/^leadscore_worker_dead_letters_total 1$/m);
    expect(metrics).toMatch(/^leadscore_worker_duplicate_events_total 0$/m);

    const stored = await edge.deps.db.collection<EventDocument>(COLLECTIONS.events).find({}).toArray();
    expect(stored.map((doc) => doc._id).sort()).toEqual(honest.map((event) => event.event_id).sort());
    for (let lead = 0; lead < LEADS; lead++) {
      const leadId = `victim-${lead}`;
      const history = await historyOf({ db: edge.deps.db, config }, leadId);
      const expected = honest.filter((event) => event.lead_id === leadId).map((event) => event.event_id);
      expect(history.map((entry) => entry.event_id)).toEqual(expected);
      expect((await leadOf({ db: edge.deps.db, config }, leadId))?.current_score).toBe(PER_LEAD * 5);
    }
    expect(await auditAll({ db: edge.deps.db, config })).toEqual([]);

    const letters = await edge.app.request("/api/dead-letters", { headers: ADMIN });
    expect(letters.status).toBe(200);
    const body = (await letters.json()) as { event_id: string; lead_id: string; reason: string; event: unknown }[];
    expect(body).toHaveLength(1);
    expect(body[0]).toMatchObject({
      event_id: "poison-1",
      lead_id: "victim-7",
      reason: expect.stringMatching(/nested arrays are not supported/),
      event: { event_id: "poison-1", metadata: { m: [[1]] } },
    });
    const stats = (await (await edge.read("/api/stats")).json()) as { dead_letters_24h: number };
    expect(stats.dead_letters_24h).toBe(1);
  }, 120_000);
});
