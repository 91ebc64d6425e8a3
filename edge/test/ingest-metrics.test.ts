import { queuedEventsKey } from "@leadscore/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { post } from "../../test-support/ingest.ts";

describe("GET /metrics", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("exposes accepted, duplicate and rejected counts, enqueue latency and the queue in Prometheus text", async () => {
    const event = { event_id: "m-1", lead_id: "m", event_type: "page_view" };
    expect((await edge.app.request("/api/events", post(event))).status).toBe(202);
    expect((await edge.app.request("/api/events", post(event))).status).toBe(200);
    expect((await edge.app.request("/api/events", post({ ...event, event_id: "m-2", event_type: "X" }))).status).toBe(
      400,
    );
    await edge.app.request("/api/batch", post({ events: [{ ...event, event_id: "m-3" }, { lead_id: "m" }] }));

    const response = await edge.app.request("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await response.text();
    expect(text).toMatch(/^leadscore_events_accepted_total 2$/m);
    expect(text).toMatch(/^leadscore_events_duplicate_total 1$/m);
    expect(text).toMatch(/^leadscore_events_rejected_total\{reason="invalid_event_type"\} 2$/m);
    expect(text).toMatch(/^# TYPE leadscore_enqueue_duration_seconds histogram$/m);
    expect(text).toMatch(/^leadscore_enqueue_duration_seconds_count 2$/m);
    expect(text).toMatch(/^leadscore_enqueue_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
    expect(text).toMatch(/^leadscore_queue_jobs\{state="waiting"\} 2$/m);
    expect(text).toMatch(/^leadscore_queue_jobs\{state="failed"\} 0$/m);
    expect(text).toMatch(/^leadscore_queue_depth 2$/m);
    expect(text).toMatch(/^leadscore_queue_up 1$/m);
  });

  describe("leadscore_queue_depth", () => {
    const depthOf = async (target: Awaited<ReturnType<typeof createTestEdge>>) =>
      Number((await (await target.app.request("/metrics")).text()).match(/^leadscore_queue_depth (\d+)$/m)?.[1]);

    it("counts queued events exactly, whatever the sizes of the jobs holding them", async () => {
      const fresh = await createTestEdge();
      try {
        const batch = Array.from({ length: 100 }, (_, i) => ({
          event_id: `d-${i}`,
          lead_id: "d",
          event_type: "page_view",
        }));
        expect((await fresh.app.request("/api/batch", post({ events: batch }))).status).toBe(202);
        for (let i = 0; i < 3; i += 1) {
          const single = { event_id: `d-single-${i}`, lead_id: "d", event_type: "page_view" };
          expect((await fresh.app.request("/api/events", post(single))).status).toBe(202);
        }
        expect(await fresh.queue.getWaitingCount()).toBe(4);
        expect(await depthOf(fresh)).toBe(103);
      } finally {
        await fresh.close();
      }
    });

    it("sets a count left over by a crash back to 0 once the queue holds no unfinished job", async () => {
      const fresh = await createTestEdge();
      try {
        const key = queuedEventsKey(fresh.deps.config.REDIS_PREFIX);
        await fresh.redis.set(key, 42);
        expect(await depthOf(fresh)).toBe(0);
        expect(await fresh.redis.get(key)).toBe("0");
      } finally {
        await fresh.close();
      }
    });

    it("never reads 0 while jobs wait, repairing a count driven below 0 by jobs queued without the edge", async () => {
      const fresh = await createTestEdge();
      try {
        const key = queuedEventsKey(fresh.deps.config.REDIS_PREFIX);
        // A replay's jobs, added to Bull directly: finished, they took the count below 0.
        await fresh.queue.add({ v: 1, events: [] });
        await fresh.queue.add({ v: 1, events: [] });
        await fresh.redis.set(key, -5);
        expect(await depthOf(fresh)).toBe(2);
        expect(await fresh.redis.get(key)).toBe("2");
      } finally {
        await fresh.close();
      }
    });
  });
});
