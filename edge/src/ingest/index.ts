import { leadPartition, partitionPrefixes } from "@leadscore/runtime";
import type { AppDeps } from "../deps.ts";
import { createEdgeMetrics } from "../metrics.ts";
import { createCommitter } from "./committer.ts";
import { createClaimer } from "./dedupe.ts";
import { createEnqueuer, partitionedEnqueuer } from "./enqueuer.ts";
import { createIngest } from "./ingest.ts";
import { createQueuedEvents } from "./queued-events.ts";
import { createRateLimiter } from "./rate-limit.ts";
import { createWriteKeyCheck } from "./write-key.ts";

export interface IngestionTuning {
  /** How long Redis may take to confirm a dedupe claim or a job before the request is answered 503. */
  deadlineMs?: number;
}

/** The ingestion machinery of one edge instance: metrics, rate limiter, dedupe claims, micro-batching enqueuer. */
export function createIngestion(
  deps: Pick<AppDeps, "config" | "redis" | "queue" | "partitionQueues" | "log" | "now">,
  tuning: IngestionTuning = {},
) {
  const now = deps.now ?? Date.now;
  const metrics = createEdgeMetrics();
  const { REDIS_PREFIX: prefix, LEAD_PARTITIONS: partitions } = deps.config;
  const prefixes = partitionPrefixes(prefix, partitions);
  // Partition p's queue; without partitions the one queue.
  const queues = deps.partitionQueues ?? [deps.queue];
  if (queues.length !== prefixes.length) throw new Error(`${prefixes.length} lead partitions, ${queues.length} queues`);
  const queuedEvents = createQueuedEvents(deps.queue.client, prefix, deps.log, now, prefixes);
  const enqueuers = queues.map((queue, partition) =>
    createEnqueuer({
      queue,
      deadlineMs: tuning.deadlineMs,
      onStored: (events, seconds) => {
        metrics.enqueueLatency(seconds);
        queuedEvents.added(events, partition);
      },
    }),
  );
  const enqueuer = partitionedEnqueuer(enqueuers, (leadId) => leadPartition(leadId, partitions));
  const claimer = createClaimer({
    redis: deps.redis,
    ttlSeconds: deps.config.DEDUPE_TTL_SECONDS,
    deadlineMs: tuning.deadlineMs,
  });
  // One partition: the dedupe buckets share the queue's slot, so one call claims and queues.
  const committer =
    prefixes.length === 1
      ? createCommitter({
          redis: (queues[0] as AppDeps["queue"]).client,
          queue: queues[0] as AppDeps["queue"],
          ttlSeconds: deps.config.DEDUPE_TTL_SECONDS,
          deadlineMs: tuning.deadlineMs,
          onStored: (events, seconds) => {
            metrics.enqueueLatency(seconds);
            queuedEvents.added(events, 0);
          },
        })
      : undefined;
  const ingest = createIngest({
    redis: deps.redis,
    queuedEvents,
    claimer,
    enqueuer,
    committer,
    metrics,
    log: deps.log,
    redisPrefix: prefixes.length === 1 ? prefix : prefixes,
    dedupeBuckets: deps.config.DEDUPE_BUCKETS,
    maxQueueDepth: deps.config.QUEUE_MAX_DEPTH,
    limits: { nestedArrays: deps.config.METADATA_ALLOW_NESTED_ARRAYS },
    maxEventAgeDays: deps.config.EVENT_MAX_AGE_DAYS,
    now,
  });
  return {
    metrics,
    ingest,
    queuedEvents,
    claimer,
    enqueuer,
    limiter: createRateLimiter(deps.config.RATE_LIMIT_PER_SECOND, now),
    checkKey: createWriteKeyCheck(deps.config.WRITE_KEYS),
    bodyTimeoutMs: deps.config.BODY_READ_TIMEOUT_MS,
    /** Sends pending micro-batches and waits for them (graceful shutdown). */
    async flush() {
      await committer?.flush();
      await claimer.flush();
      await enqueuer.flush();
      // The confirmations of what the last jobs queued, and their counts.
      await claimer.flush();
      await queuedEvents.flush();
    },
  };
}
export type Ingestion = ReturnType<typeof createIngestion>;
