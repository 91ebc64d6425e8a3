import { liveGeneration, liveKeys } from "@leadscore/live";
import { defaultRulesSeeded, partitionPrefixes, redisPersistence, volatileRedisRefusal } from "@leadscore/runtime";
import { Hono } from "hono";
import type { AppDeps } from "../../deps.ts";

const CHECK_TIMEOUT_MS = 1000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One readiness check's answer: `ok`, why not (`error`), and what it found. */
type Check = { ok: boolean; error?: string } & Record<string, unknown>;

async function check(probe: () => Promise<Check>): Promise<Check> {
  try {
    return await withTimeout(probe(), CHECK_TIMEOUT_MS);
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

const WHY_NOT_LIVE = {
  missing: "the live state has not been built yet (the worker builds it at start)",
  rebuilding: "the live state is being rebuilt from MongoDB",
  stale: "the live state was built on an earlier run of Redis; the worker checks it against MongoDB",
} as const;

/**
 * `/healthz`: the process is up. `/readyz`: Redis and MongoDB answer, the default rules are seeded and the live state
 * is current — and says how durable the Redis in use is.
 */
export function healthRoutes(deps: AppDeps) {
  return new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const [redis, mongo, rules, live] = await Promise.all([
        check(async () => {
          await deps.redis.ping();
          const persistence = await redisPersistence(deps.redis);
          const refusal = volatileRedisRefusal(persistence, deps.config);
          return refusal === null ? { ok: true, persistence } : { ok: false, error: refusal, persistence };
        }),
        check(async () => {
          await deps.db.command({ ping: 1 });
          return { ok: true };
        }),
        check(async () =>
          (await defaultRulesSeeded(deps.db))
            ? { ok: true }
            : { ok: false, error: "the default rules are not seeded yet (the worker or the edge seeds them at start)" },
        ),
        check(async () => {
          // With lead partitions, each has its own generation (its own rebuild): ready when every one is current.
          const { REDIS_PREFIX: prefix, LEAD_PARTITIONS: partitions } = deps.config;
          const layouts =
            partitions <= 1 ? [deps.live.keys] : partitionPrefixes(prefix, partitions).map((each) => liveKeys(each));
          const states = await Promise.all(layouts.map(async (keys) => (await liveGeneration(deps.redis, keys)).state));
          const behind = states.findIndex((state) => state !== "current");
          const state = states[behind] ?? "current";
          if (state === "current") return { ok: true, state };
          return { ok: false, state, error: WHY_NOT_LIVE[state], ...(partitions > 1 ? { partition: behind } : {}) };
        }),
      ]);
      const ready = redis.ok && mongo.ok && rules.ok && live.ok;
      return c.json(
        { status: ready ? "ready" : "unavailable", checks: { redis, mongo, rules, live } },
        ready ? 200 : 503,
      );
    });
}
