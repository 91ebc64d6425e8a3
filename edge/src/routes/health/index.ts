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

async function check(probe: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** `/healthz`: the process is up. `/readyz`: Redis and MongoDB answer. */
export function healthRoutes(deps: AppDeps) {
  return new Hono()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const [redis, mongo] = await Promise.all([
        check(() => deps.redis.ping()),
        check(() => deps.db.command({ ping: 1 })),
      ]);
      const ready = redis.ok && mongo.ok;
      return c.json({ status: ready ? "ready" : "unavailable", checks: { redis, mongo } }, ready ? 200 : 503);
    });
}
