import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { post, queuedEvents } from "../../test-support/ingest.ts";

interface BatchBody {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: { index: number; event_id: string | null; status: string; error?: { details: { path: string }[] } }[];
}

describe("POST /api/batch", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  describe("when valid, invalid and duplicate items are mixed", () => {
    it("answers per item and queues every valid item", async () => {
      await edge.app.request("/api/events", post({ event_id: "seen-before", lead_id: "m", event_type: "page_view" }));
      const response = await edge.app.request(
        "/api/batch",
        post({
          events: [
            { event_id: "b-1", lead_id: "m", event_type: "page_view" },
            { event_id: "b-2", lead_id: "bad lead", event_type: "page_view" },
            { event_id: "seen-before", lead_id: "m", event_type: "page_view" },
            { event_id: "b-3", lead_id: "m", event_type: "purchase", timestamp: Date.now() - 3_600_000 },
            { event_id: "b-1", lead_id: "m", event_type: "page_view" },
            "not an event",
          ],
        }),
      );
      expect(response.status).toBe(202);
      const body = (await response.json()) as BatchBody;
      expect(body).toMatchObject({ accepted: 2, duplicates: 2, rejected: 2 });
      expect(body.results.map((result) => [result.index, result.event_id, result.status])).toEqual([
        [0, "b-1", "accepted"],
        [1, "b-2", "rejected"],
        [2, "seen-before", "duplicate"],
        [3, "b-3", "accepted"],
        [4, "b-1", "duplicate"],
        [5, null, "rejected"],
      ]);
      expect(body.results[1]?.error?.details.map((detail) => detail.path)).toEqual(["lead_id"]);
      const ids = (await queuedEvents(edge.queue)).map((event) => event.event_id);
      expect(ids.filter((id) => id === "b-1")).toHaveLength(1);
      expect(ids).toContain("b-3");
      expect(ids).not.toContain("b-2");
    });
  });

  it("packs the events of concurrent requests into shared jobs", async () => {
    const before = (await edge.queue.getWaiting(0, -1)).length;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        edge.app.request("/api/events", post({ event_id: `packed-${i}`, lead_id: "p", event_type: "page_view" })),
      ),
    );
    const jobs = (await edge.queue.getWaiting(0, -1)).length - before;
    expect(jobs).toBeGreaterThan(0);
    expect(jobs).toBeLessThan(20);
  });

  it("refuses more than 1,000 events with 413", async () => {
    const events = Array.from({ length: 1001 }, (_, i) => ({
      event_id: `big-${i}`,
      lead_id: "x",
      event_type: "page_view",
    }));
    const response = await edge.app.request("/api/batch", post({ events }));
    expect(response.status).toBe(413);
  });

  it("refuses a body over 1 MB with 413", async () => {
    const events = Array.from({ length: 300 }, (_, i) => ({
      event_id: `mb-${i}`,
      lead_id: "x",
      event_type: "page_view",
      metadata: { blob: "y".repeat(3900) },
    }));
    const response = await edge.app.request("/api/batch", post({ events }));
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers 400 for a body without an events array", async () => {
    for (const body of [{ event: [] }, { events: "x" }, { events: [] }, [{ lead_id: "x" }]]) {
      const response = await edge.app.request("/api/batch", post(body));
      expect(response.status).toBe(400);
    }
  });
});
