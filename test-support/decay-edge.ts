// An edge app over a worker stack, built as the edge runtime builds its own: reads decay scores with the scoring
// settings in force, which it follows on their channel. `now` pins the instant reads are answered at, when given.
import { createApp } from "@leadscore/edge";
import { createLiveReader } from "@leadscore/live";
import { createLogger, createScoringSettingsCache } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { REDIS_URL, testEdgeConfig } from "./index.ts";
import type { TestStack } from "./worker-stack.ts";

const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };
const READ = { authorization: "Bearer test-read-token" };

export async function createDecayEdge(stack: Pick<TestStack, "db" | "config" | "queue">, now?: () => number) {
  const redis = new Redis(REDIS_URL);
  // Searches on a connection of their own, as the edge runtime runs them.
  const searchRedis = new Redis(REDIS_URL);
  const subscriber = new Redis(REDIS_URL);
  const config = testEdgeConfig({ REDIS_PREFIX: stack.config.REDIS_PREFIX });
  const log = createLogger("edge-test", "error");
  const scoring = createScoringSettingsCache({ db: stack.db, subscriber, redisPrefix: config.REDIS_PREFIX, log });
  await scoring.start();
  const live = createLiveReader({
    redis,
    redisPrefix: config.REDIS_PREFIX,
    cap: config.SCORE_CAP,
    thresholds: config.STAGE_THRESHOLDS,
    halfLife: scoring.halfLife,
    now,
  });
  const app = createApp({
    config,
    redis,
    searchRedis,
    db: stack.db,
    live,
    scoring,
    queue: stack.queue as never,
    log,
    now,
  });
  return {
    app,
    live,
    scoring,
    /** A request with the admin token and a JSON body. */
    send: (method: string, path: string, body?: unknown) =>
      app.request(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) }),
    read: (path: string) => app.request(path, { headers: READ }),
    /** Every item of a paged read from `path`, following its `Link: rel="next"` to the end. */
    async readPages<T>(path: string): Promise<T[]> {
      const items: T[] = [];
      for (let next: string | null = path; next !== null; ) {
        const response = await app.request(next, { headers: READ });
        if (response.status !== 200) throw new Error(`${next}: ${response.status} ${await response.text()}`);
        items.push(...((await response.json()) as T[]));
        const link = response.headers.get("link")?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
        next = link === undefined ? null : link.replace(/^https?:\/\/[^/]+/, "");
      }
      return items;
    },
    close() {
      scoring.close();
      subscriber.disconnect();
      searchRedis.disconnect();
      redis.disconnect();
    },
  };
}
