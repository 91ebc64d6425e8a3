// An edge app over a worker stack's database and Redis prefix, for tests that drive the API while a worker scores
// (previews, publishes): what the edge writes, the stack's worker reads.
import { createApp } from "@leadscore/edge";
import { createLiveReader } from "@leadscore/live";
import { createLogger } from "@leadscore/runtime";
import { Redis } from "ioredis";
import { REDIS_URL, testEdgeConfig } from "./index.ts";
import type { TestStack } from "./worker-stack.ts";

const ADMIN = { authorization: "Bearer test-admin-token", "content-type": "application/json" };

export function createStackEdge(stack: Pick<TestStack, "db" | "config" | "queue">) {
  const redis = new Redis(REDIS_URL);
  const config = testEdgeConfig({ REDIS_PREFIX: stack.config.REDIS_PREFIX });
  const app = createApp({
    config,
    redis,
    db: stack.db,
    live: createLiveReader({
      redis,
      redisPrefix: config.REDIS_PREFIX,
      cap: config.SCORE_CAP,
      thresholds: config.STAGE_THRESHOLDS,
    }),
    queue: stack.queue as never,
    log: createLogger("edge-test", "error"),
  });
  return {
    app,
    redis,
    /** A request with the admin token and a JSON body. */
    send: (method: string, path: string, body?: unknown) =>
      app.request(path, { method, headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) }),
    close: () => redis.disconnect(),
  };
}
