// /readyz says ready only when the edge can keep its promises: Redis and MongoDB answer, the default rules exist, the
// live state is current, and — with NODE_ENV=production — Redis keeps what it acknowledges.
import { COLLECTIONS, DEFAULT_RULES, type RuleDocument } from "@leadscore/contracts";
import { liveKeys, newGeneration, redisRunId } from "@leadscore/live";
import { createLogger, redisPersistence, seedDefaultRules, VolatileRedisError } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { testEdgeConfig } from "../../test-support/index.ts";
import { startPrivateRedis } from "../../test-support/processes.ts";
import { createApp } from "../src/app.ts";
import { createEdgeRuntime } from "../src/runtime.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Ready = {
  status: string;
  checks: Record<"redis" | "mongo" | "rules" | "live", { ok: boolean; error?: string; [key: string]: unknown }>;
};

async function readyz(app: { request(path: string): Response | Promise<Response> }) {
  const response = await app.request("/readyz");
  return { status: response.status, body: (await response.json()) as Ready };
}

describe("when the edge starts before the default rules and the live state exist", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  it("answers /readyz 503 until both exist and the live state is current, then 200", async () => {
    const gen = liveKeys(edge.deps.config.REDIS_PREFIX).gen;
    let ready = await readyz(edge.app);
    expect(ready.status).toBe(503);
    expect(ready.body.checks.redis.ok).toBe(true);
    expect(ready.body.checks.mongo.ok).toBe(true);
    expect(ready.body.checks.rules).toMatchObject({ ok: false, error: expect.stringMatching(/not seeded/) });
    expect(ready.body.checks.live).toMatchObject({ ok: false, state: "missing" });

    await seedDefaultRules(edge.deps.db);
    ready = await readyz(edge.app);
    expect(ready.body.checks.rules).toEqual({ ok: true });
    expect(ready.status).toBe(503);

    for (const [value, state] of [
      ["rebuilding:abc", "rebuilding"],
      ["0123456789abcdef:abc", "stale"],
      // This very Redis run, laid out by a version before this one: its new indexes lack the existing leads.
      [`${await redisRunId(edge.redis)}:abc`, "stale"],
    ] as const) {
      await edge.redis.set(gen, value);
      ready = await readyz(edge.app);
      expect(ready.status, state).toBe(503);
      expect(ready.body.checks.live, state).toMatchObject({ ok: false, state });
    }

    await edge.redis.set(gen, await newGeneration(edge.redis, "abc"));
    ready = await readyz(edge.app);
    expect(ready.body).toMatchObject({ status: "ready", checks: { live: { ok: true, state: "current" } } });
    expect(ready.status).toBe(200);
  });
});

describe("when GET /api/events/event-types comes before the seed has finished", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge();
  });
  afterAll(() => edge.close());

  const rules = () => edge.deps.db.collection<RuleDocument>(COLLECTIONS.rules);
  const all = DEFAULT_RULES.map((rule) => ({ value: rule.event_type, label: rule.label, points: rule.points })).sort(
    (a, b) => a.value.localeCompare(b.value),
  );

  it("finishes the seed first and lists every default, not the part already written", async () => {
    // A seed cut short after two of the five defaults.
    const at = new Date();
    await rules().insertMany(
      DEFAULT_RULES.slice(0, 2).map((rule) => ({ ...rule, created_at: at, updated_at: at })) as RuleDocument[],
    );
    const response = await edge.read("/api/events/event-types");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(all);
    expect(await rules().countDocuments()).toBe(5);
    expect((await readyz(edge.app)).body.checks.rules).toEqual({ ok: true });

    // Seeded once: a rule set the user emptied stays empty, rather than showing defaults that do not score.
    await rules().deleteMany({});
    const emptied = await edge.read("/api/events/event-types");
    expect(await emptied.json()).toEqual([]);
    expect(await rules().countDocuments()).toBe(0);
  });
});

describe("when the Redis in use keeps nothing it acknowledged", () => {
  let edge: Edge;
  let volatile: Awaited<ReturnType<typeof startPrivateRedis>>;
  let durable: Awaited<ReturnType<typeof startPrivateRedis>>;
  let locked: Awaited<ReturnType<typeof startPrivateRedis>>;
  const clients: Redis[] = [];
  const client = (url: string) => {
    const redis = new Redis(url);
    clients.push(redis);
    return redis;
  };
  beforeAll(async () => {
    edge = await createTestEdge();
    [volatile, durable, locked] = await Promise.all([
      startPrivateRedis(["--appendonly", "no", "--save", ""]),
      startPrivateRedis(["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]),
      // CONFIG renamed away, as managed Redis services often do: INFO persistence is all there is.
      startPrivateRedis(["--appendonly", "yes", "--rename-command", "CONFIG", ""]),
    ]);
  }, 60_000);
  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await Promise.all([volatile?.stop(), durable?.stop(), locked?.stop()]);
    await edge.close();
  });

  it("reads what each Redis persists, from CONFIG or, where CONFIG is refused, from INFO", async () => {
    expect(await redisPersistence(client(volatile.url))).toEqual({
      aof: false,
      fsync: null,
      save: "",
      volatile: true,
      summary:
        "no persistence (appendonly no, no snapshots): a Redis restart loses every event accepted and not yet scored",
    });
    expect(await redisPersistence(client(durable.url))).toMatchObject({
      aof: true,
      fsync: "everysec",
      volatile: false,
      summary: expect.stringMatching(/^append-only file on \(appendfsync everysec\)/),
    });
    expect(await redisPersistence(client(locked.url))).toMatchObject({
      aof: true,
      fsync: null,
      save: null,
      volatile: false,
    });
  });

  /** The edge's /readyz with its Redis client pointed at `url` and the config changed by `env`. */
  const readyzOn = async (url: string, env: Record<string, string>) => {
    const config = testEdgeConfig({ REDIS_PREFIX: edge.deps.config.REDIS_PREFIX, ...env });
    // Connected first, as the edge's client is: each check has 1 s, which a busy box can spend on connecting.
    const redis = client(url);
    await redis.ping();
    return readyz(createApp({ ...edge.deps, config, redis, log: createLogger("t", "error") }));
  };

  it("says so in /readyz, and with NODE_ENV=production is not ready on it unless REDIS_VOLATILE_OK=true", async () => {
    const development = await readyzOn(volatile.url, {});
    expect(development.body.checks.redis).toMatchObject({ ok: true, persistence: { volatile: true } });

    const production = await readyzOn(volatile.url, { NODE_ENV: "production" });
    expect(production.status).toBe(503);
    expect(production.body.checks.redis).toMatchObject({
      ok: false,
      error: expect.stringMatching(/REDIS_VOLATILE_OK=true/),
      persistence: { volatile: true },
    });

    const allowed = await readyzOn(volatile.url, { NODE_ENV: "production", REDIS_VOLATILE_OK: "true" });
    expect(allowed.body.checks.redis).toMatchObject({ ok: true, persistence: { volatile: true } });

    const durableProduction = await readyzOn(durable.url, { NODE_ENV: "production" });
    expect(durableProduction.body.checks.redis).toMatchObject({
      ok: true,
      persistence: { aof: true, volatile: false },
    });
  });

  it("refuses to start with NODE_ENV=production on it unless REDIS_VOLATILE_OK=true", async () => {
    const log = createLogger("t", "error");
    const production = (url: string, extra: Record<string, string> = {}) =>
      testEdgeConfig({ NODE_ENV: "production", REDIS_URL: url, MONGO_URL: edge.deps.config.MONGO_URL, ...extra });
    const refused = createEdgeRuntime(production(volatile.url), log);
    await expect(refused).rejects.toBeInstanceOf(VolatileRedisError);
    await expect(refused).rejects.toThrow(/appendonly yes.*REDIS_VOLATILE_OK=true/);
    for (const config of [production(volatile.url, { REDIS_VOLATILE_OK: "true" }), production(durable.url)]) {
      const runtime = await createEdgeRuntime(config, log);
      await runtime.close();
    }
  });
});
