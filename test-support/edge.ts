import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { EdgeConfig } from "@leadscore/contracts";
import { type AppDeps, createApp } from "@leadscore/edge";
import { createLiveReader } from "@leadscore/live";
import { createLogger, EVENTS_QUEUE, seedDefaultRules } from "@leadscore/runtime";
import Queue from "bull";
import { Redis } from "ioredis";
import { createTestDb, createTestRedis, testEdgeConfig, withReadToken } from "./index.ts";
import { createLiveSeeder } from "./live.ts";

/** An edge app wired to real Redis and a fresh database, isolated by a unique prefix; `close()` cleans up. */
export async function createTestEdge(overrides: Record<string, string> = {}, extra: Partial<AppDeps> = {}) {
  const config: EdgeConfig = testEdgeConfig(overrides);
  const testDb = await createTestDb();
  const testRedis = await createTestRedis(config.REDIS_PREFIX);
  const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await new Promise<void>((resolve) => redis.once("ready", () => resolve()));
  const queue = new Queue(EVENTS_QUEUE, config.REDIS_URL, { prefix: config.REDIS_PREFIX });
  const deps: AppDeps = {
    config: { ...config, MONGO_URL: testDb.url },
    redis,
    db: testDb.db,
    live: createLiveReader({
      redis,
      redisPrefix: config.REDIS_PREFIX,
      cap: config.SCORE_CAP,
      thresholds: config.STAGE_THRESHOLDS,
    }),
    queue,
    log: createLogger("edge-test", "error"),
    ...extra,
  };
  const app = createApp(deps);
  return {
    app,
    deps,
    queue,
    /** Makes the edge ready as a started deployment is: default rules seeded, a current live state. */
    async ready() {
      await seedDefaultRules(testDb.db);
      await createLiveSeeder({ redis: testRedis.redis, db: testDb.db, redisPrefix: config.REDIS_PREFIX }).generation();
    },
    /** A request carrying the test read token, as every read must. */
    read: (path: string, init?: RequestInit) => app.request(path, withReadToken(init)),
    redis: testRedis.redis,
    async close() {
      await queue.close();
      redis.disconnect();
      await testRedis.cleanup();
      await testDb.drop();
    },
  };
}

/** The Node counterpart of the Deno entry's `readStatic`: files of a built dashboard folder, or null. */
export function readStaticFrom(folder: string): NonNullable<AppDeps["readStatic"]> {
  return (path) =>
    readFile(join(folder, path)).then(
      (buffer) => new Uint8Array(buffer),
      () => null,
    );
}
