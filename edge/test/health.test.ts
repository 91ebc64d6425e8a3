import { createLogger } from "@leadscore/runtime";
import Queue from "bull";
import { Redis, type RedisOptions } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { fixedPort, testEdgeConfig } from "../../test-support/index.ts";
import { createApp } from "../src/app.ts";

describe("health endpoints", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("answers /healthz while the process is up", async () => {
    const response = await edge.app.request("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("answers /readyz 200 when Redis and MongoDB answer, the rules are seeded and the live state is current", async () => {
    await edge.ready();
    const response = await edge.app.request("/readyz");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: "ready",
      checks: { redis: { ok: true }, mongo: { ok: true }, rules: { ok: true }, live: { ok: true, state: "current" } },
    });
  });

  it("answers unknown routes 404 in the error shape", async () => {
    const response = await edge.app.request("/no/such/route");
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: { code: "NOT_FOUND", message: "no route for GET /no/such/route", details: [] },
    });
  });
});

describe("when Redis does not answer", () => {
  /** An edge whose Redis (its own client, and the queue's) points at a port where nothing answers. */
  async function edgeWithoutRedis(redisOptions: RedisOptions) {
    const port = await fixedPort();
    const config = testEdgeConfig({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const redis = new Redis(config.REDIS_URL, redisOptions);
    redis.on("error", () => undefined);
    const queue = new Queue("unused", config.REDIS_URL);
    queue.on("error", () => undefined);
    const edge = await createTestEdge();
    const app = createApp({ ...edge.deps, config, redis, queue, log: createLogger("t", "error") });
    return {
      app,
      async close() {
        redis.disconnect();
        await queue.close().catch(() => undefined);
        await edge.close();
      },
    };
  }

  it("answers /readyz 503 naming the failed check", async () => {
    const { app, close } = await edgeWithoutRedis({
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    try {
      const response = await app.request("/readyz");
      expect(response.status).toBe(503);
      const body = (await response.json()) as { checks: { redis: { ok: boolean }; mongo: { ok: boolean } } };
      expect(body.checks.redis.ok).toBe(false);
      expect(body.checks.mongo.ok).toBe(true);
    } finally {
      await close();
    }
  });

  it("still answers /metrics, with the queue marked down", async () => {
    // Bull's own clients hold commands while they reconnect: a scrape must not wait on them.
    const { app, close } = await edgeWithoutRedis({ lazyConnect: true });
    try {
      const response = await app.request("/metrics");
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toMatch(/^leadscore_queue_up 0$/m);
      expect(text).toMatch(/^leadscore_events_accepted_total /m);
    } finally {
      await close();
    }
  }, 30_000);
});
