import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { JSON_HEADERS, post, queuedEvents, WRITE_KEY } from "../../test-support/ingest.ts";

describe("POST /api/events", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("answers 202 and queues the event with its settled fields", async () => {
    const response = await edge.app.request(
      "/api/events",
      post({
        event_id: "evt-1",
        lead_id: "lead-1",
        event_type: "page_view",
        timestamp: "2026-01-02T03:04:05.000Z",
        metadata: { page: "/pricing" },
      }),
    );
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ success: true, event_id: "evt-1", duplicate: false });
    const queued = (await queuedEvents(edge.queue)).find((event) => event.event_id === "evt-1");
    expect(queued).toMatchObject({
      lead_id: "lead-1",
      event_type: "page_view",
      timestamp: Date.parse("2026-01-02T03:04:05.000Z"),
      metadata: { page: "/pricing" },
    });
    expect(queued?.received_at).toBeGreaterThan(0);
  });

  it("mints a UUIDv7 when the client sends no event id", async () => {
    const response = await edge.app.request("/api/events", post({ lead_id: "lead-2", event_type: "email_open" }));
    expect(response.status).toBe(202);
    const body = (await response.json()) as { event_id: string };
    expect(body.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  describe("when the same event id arrives again", () => {
    it("answers 200 duplicate and queues nothing more, even with a different payload", async () => {
      const first = await edge.app.request(
        "/api/events",
        post({ event_id: "evt-dup", lead_id: "a", event_type: "purchase" }),
      );
      expect(first.status).toBe(202);
      const before = (await queuedEvents(edge.queue)).length;
      const again = await edge.app.request(
        "/api/events",
        post({ event_id: "evt-dup", lead_id: "b", event_type: "page_view" }),
      );
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ success: true, event_id: "evt-dup", duplicate: true });
      expect((await queuedEvents(edge.queue)).length).toBe(before);
    });

    it("accepts exactly one of five concurrent copies", async () => {
      const responses = await Promise.all(
        Array.from({ length: 5 }, () =>
          edge.app.request("/api/events", post({ event_id: "evt-race", lead_id: "r", event_type: "page_view" })),
        ),
      );
      const statuses = responses.map((response) => response.status).sort();
      expect(statuses).toEqual([200, 200, 200, 200, 202]);
      const copies = (await queuedEvents(edge.queue)).filter((event) => event.event_id === "evt-race");
      expect(copies).toHaveLength(1);
    });
  });

  describe("when the event is invalid", () => {
    const cases: [string, unknown, string][] = [
      ["a lead id outside the alphabet", { lead_id: "bad id!", event_type: "page_view" }, "lead_id"],
      ["a missing lead id", { event_type: "page_view" }, "lead_id"],
      ["a lead id over 128 characters", { lead_id: "x".repeat(129), event_type: "page_view" }, "lead_id"],
      ["an event id outside the alphabet", { event_id: "a/b", lead_id: "l", event_type: "page_view" }, "event_id"],
      ["an upper-case event type", { lead_id: "l", event_type: "PageView" }, "event_type"],
      ["an event type over 64 characters", { lead_id: "l", event_type: "a".repeat(65) }, "event_type"],
      ["an unparseable timestamp", { lead_id: "l", event_type: "page_view", timestamp: "yesterday" }, "timestamp"],
      [
        "a timestamp 6 minutes ahead",
        { lead_id: "l", event_type: "page_view", timestamp: Date.now() + 360_000 },
        "timestamp",
      ],
      ["metadata that is not an object", { lead_id: "l", event_type: "page_view", metadata: [1] }, "metadata"],
      ["a $-prefixed metadata key", { lead_id: "l", event_type: "page_view", metadata: { $gt: 1 } }, "metadata.$gt"],
      [
        "a dotted metadata key deep inside",
        { lead_id: "l", event_type: "page_view", metadata: { a: { b: [{ "c.d": 1 }] } } },
        "metadata.a.b.0.c.d",
      ],
      [
        "metadata over 4 KB",
        { lead_id: "l", event_type: "page_view", metadata: { blob: "x".repeat(5000) } },
        "metadata",
      ],
      ["an unknown field", { lead_id: "l", event_type: "page_view", score: 1000 }, "(body)"],
    ];
    for (const [name, body, path] of cases) {
      it(`answers 400 naming the field for ${name}`, async () => {
        const response = await edge.app.request("/api/events", post(body));
        expect(response.status).toBe(400);
        const error = (await response.json()) as {
          error: { code: string; details: { path: string; message: string }[] };
        };
        expect(error.error.code).toBe("VALIDATION_FAILED");
        const paths = error.error.details.map((detail) => detail.path);
        expect(
          paths.some((p) => p === path || (path === "(body)" && /unknown field/.test(JSON.stringify(error)))),
        ).toBe(true);
        for (const detail of error.error.details) expect(detail.message.length).toBeGreaterThan(0);
      });
    }

    // Raw JSON text: in a JavaScript object literal `__proto__` would set the prototype instead of being a key.
    const reserved: [string, string][] = [
      ['{"__proto__":{"a":1}}', "metadata.__proto__"],
      ['{"constructor":{"prototype":{"a":1}}}', "metadata.constructor"],
      ['{"prototype":1}', "metadata.prototype"],
      ['{"page":"/","nested":[{"deep":{"__proto__":{"a":1}}}]}', "metadata.nested.0.deep.__proto__"],
    ];
    for (const [metadata, path] of reserved) {
      it(`answers 400 at ${path} and queues nothing`, async () => {
        const id = `evt-reserved-${path.length}`;
        const body = `{"event_id":"${id}","lead_id":"l","event_type":"page_view","metadata":${metadata}}`;
        const response = await edge.app.request("/api/events", post(body));
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({
          error: { code: "VALIDATION_FAILED", details: [{ path, message: expect.stringMatching(/is reserved/) }] },
        });
        expect((await queuedEvents(edge.queue)).map((event) => event.event_id)).not.toContain(id);
      });
    }

    it("accepts a timestamp 4 minutes ahead and epoch milliseconds", async () => {
      const ahead = await edge.app.request(
        "/api/events",
        post({ lead_id: "l", event_type: "page_view", timestamp: Date.now() + 240_000 }),
      );
      expect(ahead.status).toBe(202);
    });

    it("answers 400 for a timestamp older than EVENT_MAX_AGE_DAYS (730 by default), and accepts one just inside", async () => {
      const day = 86_400_000;
      const old = await edge.app.request(
        "/api/events",
        post({ event_id: "evt-1990", lead_id: "l", event_type: "page_view", timestamp: "1990-01-01T00:00:00Z" }),
      );
      expect(old.status).toBe(400);
      expect(await old.json()).toEqual({
        error: {
          code: "VALIDATION_FAILED",
          message: expect.any(String),
          details: [{ path: "timestamp", message: "is more than 730 days in the past (EVENT_MAX_AGE_DAYS)" }],
        },
      });
      const inside = await edge.app.request(
        "/api/events",
        post({ event_id: "evt-729d", lead_id: "l", event_type: "page_view", timestamp: Date.now() - 729 * day }),
      );
      expect(inside.status).toBe(202);
      const queued = (await queuedEvents(edge.queue)).map((event) => event.event_id);
      expect(queued).toContain("evt-729d");
      expect(queued).not.toContain("evt-1990");
    });

    it("answers 400 for a body that is not one JSON object", async () => {
      for (const body of ["[1,2]", "not json", "null"]) {
        const response = await edge.app.request("/api/events", post(body));
        expect(response.status).toBe(400);
      }
    });
  });

  describe("when the write key is missing or wrong", () => {
    it("answers 401 in the error shape", async () => {
      const body = JSON.stringify({ lead_id: "l", event_type: "page_view" });
      const missing = await edge.app.request("/api/events", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
      const wrong = await edge.app.request("/api/events", {
        method: "POST",
        headers: { "content-type": "application/json", "x-write-key": "nope" },
        body,
      });
      expect(wrong.status).toBe(401);
      const viaHeader = await edge.app.request("/api/events", {
        method: "POST",
        headers: { "content-type": "application/json", "x-write-key": "test-write-key" },
        body,
      });
      expect(viaHeader.status).toBe(202);
    });

    it("does not take the key from the query string on JSON routes", async () => {
      const response = await edge.app.request("/api/events?key=test-write-key", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ lead_id: "l", event_type: "page_view" }),
      });
      expect(response.status).toBe(401);
    });
  });

  it("answers 415 for other media types", async () => {
    const response = await edge.app.request("/api/events", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-type": "application/x-www-form-urlencoded" },
      body: "lead_id=l",
    });
    expect(response.status).toBe(415);
  });
});

describe("when EVENT_MAX_AGE_DAYS is set", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge({ EVENT_MAX_AGE_DAYS: "7" });
  });
  afterAll(() => edge.close());

  it("refuses events older than it on every ingestion route, and takes the rest of a batch", async () => {
    const day = 86_400_000;
    const eightDays = new Date(Date.now() - 8 * day).toISOString();
    const single = await edge.app.request(
      "/api/events",
      post({ lead_id: "l", event_type: "page_view", timestamp: eightDays }),
    );
    expect(single.status).toBe(400);
    const batch = await edge.app.request(
      "/api/batch",
      post({
        events: [
          { event_id: "age-old", lead_id: "l", event_type: "page_view", timestamp: eightDays },
          { event_id: "age-new", lead_id: "l", event_type: "page_view", timestamp: Date.now() - 6 * day },
        ],
      }),
    );
    expect(batch.status).toBe(202);
    expect(await batch.json()).toMatchObject({
      accepted: 1,
      rejected: 1,
      results: [
        {
          index: 0,
          event_id: "age-old",
          status: "rejected",
          error: { details: [{ path: "timestamp", message: "is more than 7 days in the past (EVENT_MAX_AGE_DAYS)" }] },
        },
        { index: 1, event_id: "age-new", status: "accepted" },
      ],
    });
    const pixel = await edge.app.request(
      `/p.gif?key=${WRITE_KEY}&lead_id=l&event_type=page_view&event_id=age-pixel&ts=${Date.now() - 8 * day}`,
    );
    expect(pixel.status).toBe(200);
    const queued = (await queuedEvents(edge.queue)).map((event) => event.event_id);
    expect(queued).toEqual(["age-new"]);
  });
});
