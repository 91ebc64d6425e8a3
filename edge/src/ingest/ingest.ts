import { dedupeKey, type FieldProblem, type Logger, normalizeEvent, type QueuedEvent } from "@leadscore/contracts";
import type { Queue } from "bull";
import type { Redis } from "ioredis";
import { ApiError } from "../errors.ts";
import type { EdgeMetrics } from "../metrics.ts";
import { EnqueueError, type Enqueuer } from "./enqueuer.ts";
import { uuidv7 } from "./uuidv7.ts";

export type ItemStatus = "accepted" | "duplicate" | "rejected";

export interface ItemResult {
  index: number;
  event_id: string | null;
  status: ItemStatus;
  error?: { code: "VALIDATION_FAILED"; message: string; details: FieldProblem[] };
}

export interface IngestOptions {
  redis: Redis;
  queue: Queue;
  enqueuer: Enqueuer;
  metrics: EdgeMetrics;
  log: Logger;
  redisPrefix: string;
  dedupeTtlSeconds: number;
  /** Waiting events past which new events are refused with 503. */
  maxQueueDepth: number;
  now: () => number;
}

/** How often the queue depth behind the back-pressure check is refreshed. */
const DEPTH_REFRESH_MS = 1000;

function unavailable(message: string): ApiError {
  return new ApiError("SERVICE_UNAVAILABLE", message, [], { "Retry-After": "1" });
}

function rejectionReason(details: FieldProblem[]): string {
  const field = details[0]?.path ?? "body";
  return `invalid_${field.split(".")[0]?.replace(/[^a-z_]/g, "") || "body"}`;
}

/**
 * The ingestion pipeline shared by every route: validate, de-duplicate (Redis `SET NX` on the event id, pipelined),
 * then hand the fresh events to the micro-batching enqueuer. Resolves only once they are in Redis.
 */
export function createIngest(options: IngestOptions) {
  const { redis, metrics } = options;
  let depth = { events: 0, at: 0 };
  let averageJobSize = 1;
  let refreshing = false;

  const refreshDepth = () => {
    if (refreshing) return;
    refreshing = true;
    void options.queue
      .getWaitingCount()
      .then((jobs) => {
        depth = { events: jobs * averageJobSize, at: options.now() };
      })
      .catch(() => undefined)
      .finally(() => {
        refreshing = false;
      });
  };

  return {
    /** Records a job's size so the depth estimate (jobs × events per job) follows the traffic. */
    noteJobSize(events: number) {
      averageJobSize = averageJobSize * 0.9 + events * 0.1;
    },
    /** Average events per job lately (to turn a job count into an event count). */
    averageJobSize: () => averageJobSize,

    async accept(raw: readonly unknown[]): Promise<ItemResult[]> {
      const now = options.now();
      if (now - depth.at > DEPTH_REFRESH_MS) refreshDepth();
      if (depth.events > options.maxQueueDepth) {
        metrics.unavailable();
        throw unavailable(`the queue holds more than ${options.maxQueueDepth} events; retry later`);
      }
      if (redis.status !== "ready") {
        metrics.unavailable();
        throw unavailable("the queue is not reachable; retry later");
      }

      const results: ItemResult[] = new Array(raw.length);
      const candidates: { index: number; event: QueuedEvent }[] = [];
      const seen = new Set<string>();
      const mint = () => uuidv7(now);
      for (let index = 0; index < raw.length; index++) {
        const outcome = normalizeEvent(raw[index], now, mint);
        if (!outcome.ok) {
          metrics.rejected(rejectionReason(outcome.details));
          const id = (raw[index] as { event_id?: unknown } | null)?.event_id;
          results[index] = {
            index,
            event_id: typeof id === "string" && id.length <= 128 ? id : null,
            status: "rejected",
            error: { code: "VALIDATION_FAILED", message: "invalid event", details: outcome.details },
          };
        } else if (seen.has(outcome.event.event_id)) {
          results[index] = { index, event_id: outcome.event.event_id, status: "duplicate" };
        } else {
          seen.add(outcome.event.event_id);
          candidates.push({ index, event: outcome.event });
        }
      }

      const fresh: { index: number; event: QueuedEvent; key: string }[] = [];
      if (candidates.length > 0) {
        const pipeline = redis.pipeline();
        const keys = candidates.map(({ event }) => dedupeKey(options.redisPrefix, event.event_id));
        for (const key of keys) pipeline.set(key, "1", "EX", options.dedupeTtlSeconds, "NX");
        let replies: [Error | null, unknown][] | null;
        try {
          replies = await pipeline.exec();
        } catch (error) {
          metrics.unavailable();
          options.log.warn("dedupe check failed", { error: (error as Error).message });
          throw unavailable("the queue is not reachable; retry later");
        }
        candidates.forEach((candidate, i) => {
          const [error, reply] = replies?.[i] ?? [new Error("no reply"), null];
          if (error) return; // handled below: any failed SET fails the request
          if (reply === "OK") fresh.push({ ...candidate, key: keys[i] ?? "" });
          else
            results[candidate.index] = {
              index: candidate.index,
              event_id: candidate.event.event_id,
              status: "duplicate",
            };
        });
        if (replies?.some(([error]) => error)) {
          await releaseKeys(fresh.map((item) => item.key));
          metrics.unavailable();
          throw unavailable("the queue is not reachable; retry later");
        }
      }

      if (fresh.length > 0) {
        try {
          await options.enqueuer.submit(fresh.map((item) => item.event));
        } catch (error) {
          // Not queued: forget the ids so the client's retry is not mistaken for a duplicate.
          await releaseKeys(fresh.map((item) => item.key));
          metrics.unavailable();
          options.log.warn("enqueue failed", {
            error: error instanceof EnqueueError ? error.message : String(error),
            events: fresh.length,
          });
          throw unavailable("the queue did not accept the events; retry later");
        }
        for (const item of fresh) {
          results[item.index] = { index: item.index, event_id: item.event.event_id, status: "accepted" };
        }
      }

      let duplicates = 0;
      for (const result of results) if (result?.status === "duplicate") duplicates++;
      metrics.accepted(fresh.length);
      metrics.duplicates(duplicates);
      return results;
    },
  };

  async function releaseKeys(keys: string[]) {
    if (keys.length === 0) return;
    try {
      await redis.del(...keys);
    } catch (error) {
      // Redis is away: these ids stay marked until their TTL; the worker's MongoDB write remains the ground truth.
      options.log.error("could not release dedupe keys after a failed enqueue", {
        error: (error as Error).message,
        keys: keys.length,
      });
    }
  }
}
export type Ingest = ReturnType<typeof createIngest>;
