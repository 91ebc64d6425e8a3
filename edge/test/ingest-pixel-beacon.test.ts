import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { queuedEvents } from "../../test-support/ingest.ts";
import { PIXEL_GIF } from "../src/routes/ingest/pixel.ts";

describe("GET /p.gif", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  async function expectGif(response: Response) {
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/gif");
    expect(response.headers.get("cache-control")).toContain("no-store");
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(bytes.byteLength).toBe(43);
    expect(new TextDecoder().decode(bytes.slice(0, 6))).toBe("GIF89a");
  }

  it("answers the 43-byte GIF and queues the event with its metadata", async () => {
    expect(PIXEL_GIF.byteLength).toBe(43);
    const ts = Date.now() - 3_600_000;
    const response = await edge.app.request(
      `/p.gif?lead_id=px-1&event_type=email_open&event_id=px-evt-1&ts=${ts}&key=test-write-key&m_campaign=spring`,
    );
    await expectGif(response);
    const event = (await queuedEvents(edge.queue)).find((queued) => queued.event_id === "px-evt-1");
    expect(event).toMatchObject({
      lead_id: "px-1",
      event_type: "email_open",
      timestamp: ts,
      metadata: { campaign: "spring" },
    });
  });

  it("still answers the GIF for bad input, a bad key or no key, and queues nothing", async () => {
    const before = (await queuedEvents(edge.queue)).length;
    await expectGif(await edge.app.request("/p.gif?lead_id=bad%20id&event_type=x&key=test-write-key"));
    await expectGif(await edge.app.request("/p.gif?lead_id=ok&event_type=page_view&key=wrong"));
    await expectGif(await edge.app.request("/p.gif?lead_id=ok&event_type=page_view"));
    expect((await queuedEvents(edge.queue)).length).toBe(before);
    const metrics = await (await edge.app.request("/metrics")).text();
    expect(metrics).toMatch(/leadscore_events_rejected_total\{reason="unauthorized"\} 2/);
    expect(metrics).toMatch(/leadscore_events_rejected_total\{reason="invalid_lead_id"\} 1/);
  });

  it("rejects, and counts, an event with a metadata parameter that cannot be a metadata key", async () => {
    const edge = await createTestEdge();
    try {
      const params = ["m___proto__=x", "m_constructor=x", "m_%24gt=1", "m_a.b=1"];
      for (const [i, param] of params.entries()) {
        await expectGif(
          await edge.app.request(
            `/p.gif?lead_id=px-2&event_type=page_view&event_id=px-bad-${i}&key=test-write-key&m_ok=1&${param}`,
          ),
        );
      }
      expect(await queuedEvents(edge.queue)).toEqual([]);
      const metrics = await (await edge.app.request("/metrics")).text();
      expect(metrics).toMatch(/leadscore_events_rejected_total\{reason="invalid_metadata"\} 4/);
      expect(metrics).toMatch(/leadscore_events_accepted_total 0/);
    } finally {
      await edge.close();
    }
  });
});

describe("POST /beacon", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("takes a text/plain sendBeacon body with ?key= and answers 204", async () => {
    const response = await edge.app.request("/beacon?key=test-write-key", {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8" },
      body: JSON.stringify({ event_id: "bc-1", lead_id: "bl", event_type: "page_view" }),
    });
    expect(response.status).toBe(204);
    expect((await queuedEvents(edge.queue)).map((event) => event.event_id)).toContain("bc-1");
  });

  it("takes { events } as JSON and queues the valid ones", async () => {
    const response = await edge.app.request("/beacon?key=test-write-key", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        events: [
          { event_id: "bc-2", lead_id: "bl", event_type: "page_view" },
          { event_id: "bc-3", lead_id: "b l", event_type: "page_view" },
        ],
      }),
    });
    expect(response.status).toBe(204);
    const ids = (await queuedEvents(edge.queue)).map((event) => event.event_id);
    expect(ids).toContain("bc-2");
    expect(ids).not.toContain("bc-3");
  });

  it("answers 401 without a key and 400 for a body that is not JSON", async () => {
    const noKey = await edge.app.request("/beacon", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(noKey.status).toBe(401);
    const notJson = await edge.app.request("/beacon?key=test-write-key", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hello",
    });
    expect(notJson.status).toBe(400);
  });
});
