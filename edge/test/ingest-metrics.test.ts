import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "./helpers.ts";
import { post } from "./ingest-helpers.ts";

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
});
