// Values the store would refuse (nested arrays on FerretDB, a NUL in a key) or keep altered (1e400 as null, a lone
// surrogate as U+FFFD, -0 as 0) are refused on every ingestion route, naming the path, and never queued: a 202 must
// mean the event will be stored as sent. Profile fields refuse control characters too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { post, queuedEvents, WRITE_KEY } from "../../test-support/ingest.ts";
import { UNSTORABLE_METADATA } from "../../test-support/unstorable.ts";
import { ADMIN } from "./leads-fixtures.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Details = { path: string; message: string }[];

const eventJson = (id: string, metadata: string) =>
  `{"event_id":"${id}","lead_id":"unstorable","event_type":"page_view","metadata":${metadata}}`;

describe("when an event holds a value the store would refuse or alter", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  for (const [index, [metadata, path, message]] of UNSTORABLE_METADATA.entries()) {
    it(`POST /api/events answers 400 at ${JSON.stringify(path)} for ${metadata} and queues nothing`, async () => {
      const response = await edge.app.request("/api/events", post(eventJson(`un-${index}`, metadata)));
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: "VALIDATION_FAILED", message: "invalid event", details: [{ path, message }] },
      });
      expect((await queuedEvents(edge.queue)).map((event) => event.event_id)).not.toContain(`un-${index}`);
    });
  }

  it("POST /api/batch rejects such an item with its path and queues the honest one beside it", async () => {
    const body = `{"events":[${eventJson("b-honest", "{}")},${eventJson("b-nested", '{"m":[[1]]}')}]}`;
    const response = await edge.app.request("/api/batch", post(body));
    expect(response.status).toBe(202);
    const answer = (await response.json()) as { accepted: number; rejected: number; results: unknown[] };
    expect(answer.accepted).toBe(1);
    expect(answer.rejected).toBe(1);
    expect(answer.results[1]).toEqual({
      index: 1,
      event_id: "b-nested",
      status: "rejected",
      error: {
        code: "VALIDATION_FAILED",
        message: "invalid event",
        details: [
          {
            path: "metadata.m.0",
            message: "must not be an array inside an array: the store cannot keep nested arrays",
          },
        ],
      },
    });
    const ids = (await queuedEvents(edge.queue)).map((event) => event.event_id);
    expect(ids).toContain("b-honest");
    expect(ids).not.toContain("b-nested");
  });

  it("POST /beacon queues the honest event and counts the other as invalid metadata", async () => {
    const response = await edge.app.request(`/beacon?key=${WRITE_KEY}`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: `{"events":[${eventJson("bc-honest", "{}")},${eventJson("bc-inf", '{"n":1e400}')}]}`,
    });
    expect(response.status).toBe(204);
    const ids = (await queuedEvents(edge.queue)).map((event) => event.event_id);
    expect(ids).toContain("bc-honest");
    expect(ids).not.toContain("bc-inf");
  });

  it("GET /p.gif answers the GIF and counts, not queues, an m_ parameter holding a NUL", async () => {
    const fresh = await createTestEdge();
    try {
      const response = await fresh.app.request(
        `/p.gif?lead_id=px&event_type=page_view&event_id=px-nul&key=${WRITE_KEY}&m_a=x%00y`,
      );
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("image/gif");
      expect(await queuedEvents(fresh.queue)).toEqual([]);
      const metrics = await (await fresh.app.request("/metrics")).text();
      expect(metrics).toMatch(/^leadscore_events_rejected_total\{reason="invalid_metadata"\} 1$/m);
    } finally {
      await fresh.close();
    }
  });
});

describe("when the deployment lets nested arrays through (a MongoDB store)", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge({ METADATA_ALLOW_NESTED_ARRAYS: "true" });
  });
  afterAll(() => edge.close());

  it("queues them as sent, and still refuses what no store keeps exactly", async () => {
    const nested = await edge.app.request("/api/events", post(eventJson("n-ok", '{"m":[[1,[2]]]}')));
    expect(nested.status).toBe(202);
    const queued = (await queuedEvents(edge.queue)).find((event) => event.event_id === "n-ok");
    expect(queued?.metadata).toEqual({ m: [[1, [2]]] });
    const nul = await edge.app.request("/api/events", post(eventJson("n-nul", '{"m":[["a\\u0000"]]}')));
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { error: { details: Details } }).error.details).toEqual([
      { path: "metadata.m.0.0", message: "must not contain a NUL character" },
    ]);
  });
});

describe("when a profile field holds a control character or a lone surrogate", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  const write = (method: "POST" | "PATCH", path: string, body: string) =>
    edge.app.request(path, { method, headers: ADMIN, body });
  const profile = { name: "Ada", email: "ada@example.com", company: "Engines" };
  const profileJson = Object.fromEntries(Object.entries(profile).map(([name, text]) => [name, JSON.stringify(text)]));

  it.each([
    ["name", '"Ada\\u0007"', "must not contain control characters"],
    ["company", '"En\\u0000gines"', "must not contain control characters"],
    ["company", '"Engines\\u009b"', "must not contain control characters"],
    ["name", '"Ada \\ud800"', "must not contain a lone UTF-16 surrogate (it would be stored as U+FFFD)"],
  ])("POST /api/leads answers 400 naming %s for %s", async (field, value, message) => {
    // Raw JSON text, so the escapes reach the edge as a client sends them.
    const fields: Record<string, string> = { ...profileJson, [field]: value };
    const body = `{${Object.entries(fields)
      .map(([name, json]) => `"${name}":${json}`)
      .join(",")}}`;
    const response = await write("POST", "/api/leads", body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: "VALIDATION_FAILED", details: [{ path: field, message }] },
    });
  });

  it("PATCH /api/leads/:id answers 400 for a company with a newline, and keeps the profile", async () => {
    expect((await write("POST", "/api/leads", JSON.stringify({ _id: "ctrl-1", ...profile }))).status).toBe(201);
    const response = await write("PATCH", "/api/leads/ctrl-1", '{"company":"Engines\\nLtd"}');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { details: [{ path: "company", message: "must not contain control characters" }] },
    });
    const lead = (await (await edge.read("/api/leads/ctrl-1")).json()) as { company: string };
    expect(lead.company).toBe("Engines");
  });
});

describe("when a profile edit sends null for a field", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("clears that field and keeps the others", async () => {
    const created = await edge.app.request("/api/leads", {
      method: "POST",
      headers: ADMIN,
      body: JSON.stringify({ _id: "clear-1", name: "Ada", email: "ada@example.com", company: "Engines" }),
    });
    expect(created.status).toBe(201);
    const response = await edge.app.request("/api/leads/clear-1", {
      method: "PATCH",
      headers: ADMIN,
      body: JSON.stringify({ company: null }),
    });
    expect(response.status).toBe(200);
    const read = (await (await edge.read("/api/leads/clear-1")).json()) as Record<string, unknown>;
    expect([read.name, read.email, read.company]).toEqual(["Ada", "ada@example.com", null]);
  });
});
