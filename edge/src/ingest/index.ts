import type { AppDeps } from "../deps.ts";
import { createEdgeMetrics } from "../metrics.ts";
import { createEnqueuer } from "./enqueuer.ts";
import { createIngest } from "./ingest.ts";
import { createRateLimiter } from "./rate-limit.ts";
import { createWriteKeyCheck } from "./write-key.ts";

/** The ingestion machinery of one edge instance: metrics, rate limiter, micro-batching enqueuer, pipeline. */
export function createIngestion(deps: Pick<AppDeps, "config" | "redis" | "queue" | "log" | "now">) {
  const now = deps.now ?? Date.now;
  const metrics = createEdgeMetrics();
  let ingestRef: ReturnType<typeof createIngest> | undefined;
  const enqueuer = createEnqueuer({
    queue: deps.queue,
    onStored: (events, seconds) => {
      metrics.enqueueLatency(seconds);
      ingestRef?.noteJobSize(events);
    },
  });
  const ingest = createIngest({
    redis: deps.redis,
    queue: deps.queue,
    enqueuer,
    metrics,
    log: deps.log,
    redisPrefix: deps.config.REDIS_PREFIX,
    dedupeTtlSeconds: deps.config.DEDUPE_TTL_SECONDS,
    maxQueueDepth: deps.config.QUEUE_MAX_DEPTH,
    now,
  });
  ingestRef = ingest;
  return {
    metrics,
    ingest,
    enqueuer,
    limiter: createRateLimiter(deps.config.RATE_LIMIT_PER_SECOND, now),
    checkKey: createWriteKeyCheck(deps.config.WRITE_KEYS),
    /** Sends pending micro-batches and waits for them (graceful shutdown). */
    drain: () => enqueuer.drain(),
  };
}
export type Ingestion = ReturnType<typeof createIngestion>;
