// What bounds a client: rate limits per write key and per address, body caps however the body is framed, CORS
// only for listed origins on the read/admin API, and the browser-side protections every HTML page carries.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRateLimiter } from "@leadscore/edge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge, readStaticFrom } from "../../test-support/edge.ts";
import { queuedEvents } from "../../test-support/ingest.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

const event = (id: string) => JSON.stringify({ event_id: id, lead_id: "limit-lead", event_type: "page_view" });
const send = (edge: Edge, key: string, address: string, id: string) =>
  edge.app.request(
    "/api/events",
    { method: "POST", headers: { "content-type": "application/json", "x-write-key": key }, body: event(id) },
    { remoteAddr: { hostname: address } },
  );

describe("when one client sends faster than the rate limit", () => {
  let edge: Edge;
  beforeAll(async () => {
    // A clock that stands still: no bucket refills between requests, however slowly they go. Each test spends the
    // budgets of keys and addresses of its own.
    const at = Date.now();
    edge = await createTestEdge(
      { RATE_LIMIT_PER_SECOND: "3", WRITE_KEYS: "key-a,key-b,key-c,key-d,key-e,key-f" },
      { now: () => at },
    );
  });
  afterAll(() => edge.close());

  it("limits one address whatever keys it uses, and queues nothing it refused", async () => {
    const statuses: number[] = [];
    for (const [i, key] of ["key-a", "key-b", "key-a", "key-b"].entries()) {
      statuses.push((await send(edge, key, "10.1.0.1", `addr-${i}`)).status);
    }
    expect(statuses).toEqual([202, 202, 202, 429]);
    const queued = (await queuedEvents(edge.queue)).map((queuedEvent) => queuedEvent.event_id);
    expect(queued).not.toContain("addr-3");
  });

  it("limits one key whatever addresses it comes from", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(edge, "key-c", `10.2.0.${i}`, `key-${i}`)).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
  });

  it("says when to come back, and leaves other clients alone", async () => {
    for (let i = 0; i < 3; i++) expect((await send(edge, "key-d", `10.5.0.${i}`, `spent-${i}`)).status).toBe(202);
    const limited = await send(edge, "key-d", "10.5.0.9", "key-late");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // Another key on a fresh address still has its own budget.
    expect((await send(edge, "key-e", "10.3.0.1", "other-client")).status).toBe(202);
  });

  it("answers a limited pixel with the GIF and queues nothing", async () => {
    for (let i = 0; i < 3; i++) expect((await send(edge, "key-f", "10.4.0.1", `pixel-spent-${i}`)).status).toBe(202);
    const response = await edge.app.request(
      "/p.gif?key=key-f&lead_id=limit-lead&event_type=page_view&event_id=pixel-limited",
      {},
      { remoteAddr: { hostname: "10.4.0.1" } },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/gif");
    const queued = (await queuedEvents(edge.queue)).map((queuedEvent) => queuedEvent.event_id);
    expect(queued).toContain("pixel-spent-2");
    expect(queued).not.toContain("pixel-limited");
  });
});

describe("when addresses flood the rate limiter", () => {
  it("keeps a bounded number of buckets, forgetting the oldest", () => {
    const limiter = createRateLimiter(1, () => 0, 3);
    expect(limiter.take("first")).toBe(0);
    expect(limiter.take("first")).toBeGreaterThan(0);
    // Three newer names push "first" out; it comes back with a full bucket rather than growing the map.
    for (const name of ["b", "c", "d"]) limiter.take(name);
    expect(limiter.take("first")).toBe(0);
  });
});

describe("when bodies are larger than their caps", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  /** A body sent in chunks with no Content-Length, so no cap can be checked before reading. */
  const chunked = (size: number) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
        for (let sent = 0; sent < size; sent += chunk.byteLength) controller.enqueue(chunk);
        controller.close();
      },
    });
  const post = (path: string, body: BodyInit, headers: Record<string, string>) =>
    edge.app.request(path, { method: "POST", headers, body, duplex: "half" } as RequestInit);
  const ingest = { "content-type": "application/json", "x-write-key": "test-write-key" };
  const admin = { "content-type": "application/json", authorization: "Bearer test-admin-token" };

  it("answers 413 past 64 KB for one event and 1 MB for a batch, with or without Content-Length", async () => {
    expect((await post("/api/events", " ".repeat(64 * 1024 + 1), ingest)).status).toBe(413);
    expect((await post("/api/events", chunked(128 * 1024), ingest)).status).toBe(413);
    expect((await post("/api/batch", " ".repeat(1024 * 1024 + 1), ingest)).status).toBe(413);
    expect((await post("/api/batch", chunked(2 * 1024 * 1024), ingest)).status).toBe(413);
    expect(
      (await post("/beacon?key=test-write-key", chunked(2 * 1024 * 1024), { "content-type": "text/plain" })).status,
    ).toBe(413);
  });

  it("answers 413 past 16 KB for an admin body, with or without Content-Length", async () => {
    expect((await post("/api/rules", " ".repeat(16 * 1024 + 1), admin)).status).toBe(413);
    expect((await post("/api/rules", chunked(64 * 1024), admin)).status).toBe(413);
  });
});

describe("when an admin write's body stalls", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge({ BODY_READ_TIMEOUT_MS: "300" });
  });
  afterAll(() => edge.close());

  /** The start of a JSON body, and then nothing: the stream never ends. */
  const stalled = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"event_type":'));
      },
    });
  const admin = { "content-type": "application/json", authorization: "Bearer test-admin-token" };

  it("answers 408 after BODY_READ_TIMEOUT_MS on every write that reads a body, as ingestion does", async () => {
    const writes = [
      ["POST", "/api/rules"],
      ["PUT", "/api/rules/purchase"],
      ["POST", "/api/leads"],
    ] as const;
    for (const [method, path] of writes) {
      const response = await edge.app.request(path, {
        method,
        headers: admin,
        body: stalled(),
        duplex: "half",
      } as RequestInit);
      expect(response.status, `${method} ${path}`).toBe(408);
      expect(await response.json()).toMatchObject({ error: { code: "REQUEST_TIMEOUT" } });
    }
  });
});

describe("when a browser on another origin calls", () => {
  const DASHBOARD = "https://dash.example";
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge({ CORS_ORIGINS: DASHBOARD });
  });
  afterAll(() => edge.close());

  const reads = ["/api/leads", "/api/leads/leaderboard", "/api/rules", "/api/events/event-types", "/openapi.json"];
  const writes: [string, string][] = [
    ["POST", "/api/leads"],
    ["POST", "/api/rules"],
    ["PUT", "/api/rules/page_view"],
    ["DELETE", "/api/rules/page_view"],
  ];

  it("lets only a listed origin read the API, never with credentials", async () => {
    for (const path of reads) {
      const listed = await edge.read(path, { headers: { origin: DASHBOARD } });
      expect(listed.status, path).toBe(200);
      expect(listed.headers.get("access-control-allow-origin")).toBe(DASHBOARD);
      expect(listed.headers.get("access-control-allow-credentials")).toBeNull();
      const stranger = await edge.read(path, { headers: { origin: "https://evil.example" } });
      expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("lets only a listed origin's preflight through for admin writes", async () => {
    for (const [method, path] of writes) {
      const preflight = (origin: string) =>
        edge.app.request(path, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": method,
            "access-control-request-headers": "authorization",
          },
        });
      expect((await preflight(DASHBOARD)).headers.get("access-control-allow-origin")).toBe(DASHBOARD);
      // Without Access-Control-Allow-Origin the browser refuses the preflight, whatever else it says.
      expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  it("lets any origin send events, without credentials", async () => {
    const response = await edge.app.request("/api/events", {
      method: "OPTIONS",
      headers: { origin: "https://shop.example", "access-control-request-method": "POST" },
    });
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });
});

describe("when a browser loads an HTML page", () => {
  let edge: Edge;
  let folder: string;
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), "security-dist-"));
    await mkdir(join(folder, "assets"));
    await writeFile(join(folder, "index.html"), "<!doctype html><title>Leadscore</title>");
    await writeFile(join(folder, "assets", "app-1.js"), "1");
    edge = await createTestEdge({}, { readStatic: readStaticFrom(folder) });
  });
  afterAll(async () => {
    await edge.close();
    await rm(folder, { recursive: true, force: true });
  });

  it("sends every page with a strict policy: no framing, no inline script, no sniffing, no referrer", async () => {
    for (const path of ["/", "/leads/acme.bob", "/rules", "/docs"]) {
      const response = await edge.app.request(`http://dash.example${path}`, { headers: { accept: "text/html" } });
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type"), path).toMatch(/^text\/html/);
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp, path).toMatch(/default-src '(self|none)'/);
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(csp, path).toContain("base-uri 'none'");
      expect(csp, path).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
      expect(response.headers.get("x-frame-options"), path).toBe("DENY");
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("referrer-policy"), path).toBe("no-referrer");
    }
  });

  it("sends scripts with nosniff", async () => {
    const response = await edge.app.request("/assets/app-1.js");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
