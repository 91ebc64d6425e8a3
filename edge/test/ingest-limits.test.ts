import { gzipSync } from "node:zlib";
import { createLogger, dedupeSlot, EVENTS_QUEUE, queuedEventsKey, readDedupeMark } from "@leadscore/runtime";
import Queue from "bull";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { inflatedReading, inflatedSince } from "../../test-support/gzip-bombs.ts";
import { eventually, fixedPort } from "../../test-support/index.ts";
import { createStallingRelay, JSON_HEADERS, post, queuedEvents } from "../../test-support/ingest.ts";
import { createApp } from "../src/app.ts";
import { MAX_BATCH_BODY_BYTES, MAX_GZIP_RATIO } from "../src/ingest/body.ts";
import { createIngestion } from "../src/ingest/index.ts";

const event = (id: string) => ({ event_id: id, lead_id: "lim", event_type: "page_view" });

describe("gzip request bodies", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("accepts a gzip-encoded batch", async () => {
    const body = gzipSync(JSON.stringify({ events: [event("gz-1"), event("gz-2")] }));
    const response = await edge.app.request("/api/batch", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "gzip" },
      body,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 2 });
  });

  /** Posts a gzip body to /api/batch; the response, and what inflating it cost (from the edge's /metrics). */
  const postGzip = async (body: Uint8Array<ArrayBuffer>) => {
    const before = inflatedReading(await (await edge.app.request("/metrics")).text());
    const response = await edge.app.request("/api/batch", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "gzip" },
      body,
    });
    const after = inflatedReading(await (await edge.app.request("/metrics")).text());
    return { response, inflated: inflatedSince(after, before) };
  };

  it("refuses a body whose inflated size passes the 1 MB cap at under 200:1, once it passes the cap", async () => {
    // Distinct events compress about as real traffic does, far below the ratio bound: only the cap can refuse them.
    const events = Array.from({ length: 12_000 }, (_, i) => ({
      event_id: `cap-${i.toString(36)}-${(i * 7919).toString(16)}`,
      lead_id: `lead-${i % 613}`,
      event_type: "page_view",
      metadata: { path: `/docs/${(i * 31) % 977}` },
    }));
    const text = JSON.stringify({ events });
    const body = gzipSync(text);
    expect(text.length).toBeGreaterThan(MAX_BATCH_BODY_BYTES);
    expect(text.length / body.byteLength).toBeLessThan(MAX_GZIP_RATIO / 4);
    const { response, inflated } = await postGzip(body);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      error: {
        code: "PAYLOAD_TOO_LARGE",
        message: `body must be at most ${MAX_BATCH_BODY_BYTES} bytes (after decompression)`,
        details: [],
      },
    });
    // Inflating stopped with the slice that passed the cap: at most one more slice's output (16 KB in, ~64 KB out).
    expect(inflated.bodies).toBe(1);
    expect(inflated.bytes).toBeGreaterThan(MAX_BATCH_BODY_BYTES);
    expect(inflated.bytes).toBeLessThan(MAX_BATCH_BODY_BYTES + 256 * 1024);
  });

  it("refuses a 20 MB gzip bomb with 413 having inflated at most the cap", async () => {
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const { response, inflated } = await postGzip(bomb);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE" } });
    // Under Deno the ratio refuses a bomb after ~16 KB (deno-gzip-bombs.test.ts counts it). Node's inflater takes
    // slices without waiting for their output to be read, so here the bomb runs on to the cap, and no further.
    expect(inflated.bodies).toBe(1);
    expect(inflated.bytes).toBeLessThan(MAX_BATCH_BODY_BYTES + 256 * 1024);
  });

  it("refuses a body that inflates more than 200 times its size, even under the cap", async () => {
    const dense = gzipSync(`{"events":[${" ".repeat(200 * 1024)}]}`);
    const response = await edge.app.request("/api/batch", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "gzip" },
      body: dense,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      error: { code: "PAYLOAD_TOO_LARGE", details: [{ path: "(body)", message: "compression ratio above 200:1" }] },
    });
  });

  it("accepts a batch of one event repeated, which compresses unusually well", async () => {
    const events = Array.from({ length: 300 }, () => ({ lead_id: "lim", event_type: "page_view" }));
    const text = JSON.stringify({ events });
    const body = gzipSync(text, { level: 9 });
    expect(text.length / body.byteLength).toBeGreaterThan(90);
    const response = await edge.app.request("/api/batch", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "gzip" },
      body,
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 300 });
  });

  it("inflates a gzip body that arrives in many small chunks", async () => {
    const body = gzipSync(JSON.stringify({ events: [event("gz-chunked-1"), event("gz-chunked-2")] }));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.byteLength; i += 7) controller.enqueue(body.subarray(i, i + 7));
        controller.close();
      },
    });
    const response = await edge.app.request("/api/batch", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "gzip" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 2 });
  });

  it("answers 400 for a corrupt gzip body and for invalid UTF-8", async () => {
    const corrupt = await edge.app.request("/api/events", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "gzip" },
      body: Buffer.from("definitely not gzip"),
    });
    expect(corrupt.status).toBe(400);
    const badUtf8 = await edge.app.request("/api/events", {
      method: "POST",
      headers: JSON_HEADERS,
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(badUtf8.status).toBe(400);
  });

  it("answers 415 for an unknown Content-Encoding", async () => {
    const response = await edge.app.request("/api/events", {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-encoding": "br" },
      body: "{}",
    });
    expect(response.status).toBe(415);
  });
});

describe("CORS for browser senders", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("answers a preflight from any origin and lets it be cached", async () => {
    const response = await edge.app.request("/api/events", {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, x-write-key",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-write-key");
    expect(Number(response.headers.get("access-control-max-age"))).toBeGreaterThanOrEqual(3600);
  });
});

describe("rate limiting", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    // A clock that stands still: no bucket refills between requests, however slowly they go.
    const at = Date.now();
    edge = await createTestEdge({ RATE_LIMIT_PER_SECOND: "3" }, { now: () => at });
  });
  afterAll(() => edge.close());

  it("answers 429 with Retry-After past the per-key rate", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const response = await edge.app.request("/api/events", post(event(`rl-${i}`)), {
        remoteAddr: { hostname: `10.0.0.${i}` },
      });
      statuses.push(response.status);
      if (response.status === 429) retryAfter = response.headers.get("retry-after");
    }
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const metrics = await (await edge.app.request("/metrics")).text();
    expect(metrics).toMatch(/leadscore_requests_rate_limited_total 2/);
  });
});

describe("when Redis cannot take the event", () => {
  it("answers 503 with Retry-After and queues nothing", async () => {
    const edge = await createTestEdge();
    const port = await fixedPort();
    const deadRedis = new Redis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, lazyConnect: true });
    deadRedis.on("error", () => undefined);
    const deadQueue = new Queue("dead", `redis://127.0.0.1:${port}`);
    deadQueue.on("error", () => undefined);
    const app = createApp({ ...edge.deps, redis: deadRedis, queue: deadQueue, ingestion: undefined });
    try {
      const response = await app.request("/api/events", post(event("down-1")));
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("SERVICE_UNAVAILABLE");
      const pixel = await app.request("/p.gif?lead_id=a&event_type=page_view&key=test-write-key");
      expect(pixel.status).toBe(503);
      expect((await pixel.arrayBuffer()).byteLength).toBe(43);
    } finally {
      deadRedis.disconnect();
      await deadQueue.close().catch(() => undefined);
      await edge.close();
    }
  });

  it("releases the dedupe keys when the job is not stored, so the client's retry is accepted", async () => {
    const edge = await createTestEdge();
    const port = await fixedPort();
    // Dedupe works (real Redis) but the queue's Redis does not answer: the enqueue times out.
    const deadQueue = new Queue(EVENTS_QUEUE, `redis://127.0.0.1:${port}`, { prefix: edge.deps.config.REDIS_PREFIX });
    deadQueue.on("error", () => undefined);
    const app = createApp({ ...edge.deps, queue: deadQueue, ingestion: undefined, log: createLogger("t", "error") });
    try {
      const failed = await app.request("/api/events", post(event("retry-me")));
      expect(failed.status).toBe(503);
      const slot = dedupeSlot(edge.deps.config.REDIS_PREFIX, "retry-me", edge.deps.config.DEDUPE_BUCKETS);
      expect((await readDedupeMark(edge.redis, slot)).state).toBe("absent");
      const retried = await edge.app.request("/api/events", post(event("retry-me")));
      expect(retried.status).toBe(202);
      expect((await queuedEvents(edge.queue)).filter((queued) => queued.event_id === "retry-me")).toHaveLength(1);
    } finally {
      await deadQueue.close().catch(() => undefined);
      await edge.close();
    }
  });

  it("answers 503 when Redis answers only after the deadline, and a retry of what the late answer queued is its duplicate", async () => {
    const edge = await createTestEdge();
    const relay = await createStallingRelay(Number(new URL(edge.deps.config.REDIS_URL).port || 6379));
    const slowRedis = new Redis(`redis://127.0.0.1:${relay.port}`, { enableOfflineQueue: false });
    slowRedis.on("error", () => undefined);
    await new Promise((resolve) => slowRedis.once("ready", resolve));
    // The queue's connection goes through the relay too: one Redis, slow for every client.
    const slowQueue = new Queue(EVENTS_QUEUE, `redis://127.0.0.1:${relay.port}`, {
      prefix: edge.deps.config.REDIS_PREFIX,
    });
    await slowQueue.isReady();
    const deps = { ...edge.deps, redis: slowRedis, queue: slowQueue, partitionQueues: [slowQueue] };
    const app = createApp({ ...deps, ingestion: createIngestion(deps, { deadlineMs: 200 }) });
    const slot = dedupeSlot(edge.deps.config.REDIS_PREFIX, "slow-1", edge.deps.config.DEDUPE_BUCKETS);
    try {
      relay.stall();
      const response = await app.request("/api/events", post(event("slow-1")));
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBe("1");
      relay.resume();
      // The event was queued after the 503, with its mark: the client's retry is its duplicate, not a second copy.
      await eventually(async () => (await readDedupeMark(edge.redis, slot)).state === "seen");
      expect((await app.request("/api/events", post(event("slow-1")))).status).toBe(200);
      expect((await queuedEvents(edge.queue)).filter((queued) => queued.event_id === "slow-1")).toHaveLength(1);
    } finally {
      await slowQueue.close().catch(() => undefined);
      slowRedis.disconnect();
      await relay.close();
      await edge.close();
    }
  });

  it("answers 503 once the queue holds more than QUEUE_MAX_DEPTH events", async () => {
    const edge = await createTestEdge({ QUEUE_MAX_DEPTH: "2" });
    try {
      for (let i = 0; i < 3; i++) {
        expect((await edge.app.request("/api/events", post(event(`deep-${i}`)))).status).toBe(202);
      }
      // The depth is sampled in the background, at most once a second: new events are accepted until it is read.
      let probe = 0;
      const refused = await eventually(async () => {
        const response = await edge.app.request("/api/events", post(event(`deep-probe-${probe++}`)));
        return response.status === 503 ? response : null;
      });
      expect(await refused.json()).toMatchObject({
        error: { code: "SERVICE_UNAVAILABLE", message: "the queue holds more than 2 events; retry later" },
      });
    } finally {
      await edge.close();
    }
  });

  it("answers 503 while the queue holds more than QUEUE_MAX_DEPTH jobs, though the count drifted below 0", async () => {
    const edge = await createTestEdge({ QUEUE_MAX_DEPTH: "2" });
    try {
      // Jobs queued without the edge (a replay): the worker's finished ones took the edge's count below 0.
      for (let i = 0; i < 3; i++) await edge.queue.add({ v: 1, events: [] });
      await edge.redis.set(queuedEventsKey(edge.deps.config.REDIS_PREFIX), -500);
      let probe = 0;
      await eventually(async () => {
        const response = await edge.app.request("/api/events", post(event(`drift-probe-${probe++}`)));
        return response.status === 503 ? response : null;
      });
    } finally {
      await edge.close();
    }
  });
});
