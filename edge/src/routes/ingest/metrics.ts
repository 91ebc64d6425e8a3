import { byLabel, counterLines, gaugeLines } from "@leadscore/runtime/prometheus";
import type { Queue } from "bull";
import { Hono } from "hono";
import type { Redis } from "ioredis";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { withDeadline } from "../../ingest/batcher.ts";
import type { QueuedEvents } from "../../ingest/queued-events.ts";
import type { EdgeMetrics } from "../../metrics.ts";

/**
 * Longest a scrape waits for the queue's Redis: Bull's client holds commands while it reconnects, so without a bound
 * a scrape would hang for as long as Redis is down, instead of answering `leadscore_queue_up 0`.
 */
export const QUEUE_GAUGES_TIMEOUT_MS = 2_000;

const QUEUE_UP_HELP = "Whether the queue's Redis answered this scrape.";

const roundToMs = (seconds: number) => Math.round(seconds * 1000) / 1000;

async function queueGauges(
  queue: Queue,
  redis: Redis,
  prefix: string,
  queuedEvents: QueuedEvents,
  now: number,
): Promise<string[]> {
  try {
    const read = async () => {
      const [counts, depth] = await Promise.all([queue.getJobCounts(), queuedEvents.read()]);
      // The oldest waiting job is the tail of Bull's wait list; its age is how far the workers lag behind.
      const oldestId = await redis.lindex(`${prefix}:${queue.name}:wait`, -1);
      const oldestAt = oldestId ? Number(await redis.hget(`${prefix}:${queue.name}:${oldestId}`, "timestamp")) : NaN;
      return { counts, depth, oldestAt };
    };
    const { counts, depth, oldestAt } = await withDeadline(read(), QUEUE_GAUGES_TIMEOUT_MS, "the queue's Redis");
    const lag = Number.isFinite(oldestAt) ? Math.max(0, (now - oldestAt) / 1000) : 0;
    return [
      ...gaugeLines(
        "leadscore_queue_jobs",
        "Jobs in the events queue, by state (a job holds a micro-batch of events).",
        byLabel("state", Object.entries(counts)),
      ),
      ...gaugeLines(
        "leadscore_queue_depth",
        "Events accepted and not yet scored (in jobs waiting, active, delayed or paused).",
        depth,
      ),
      ...gaugeLines("leadscore_queue_lag_seconds", "Age of the oldest job waiting to be scored.", roundToMs(lag)),
      ...gaugeLines("leadscore_queue_up", QUEUE_UP_HELP, 1),
    ];
  } catch {
    return gaugeLines("leadscore_queue_up", QUEUE_UP_HELP, 0);
  }
}

function expensiveReadLines(reads: ExpensiveReads): string[] {
  const refused = reads.refused();
  return [
    ...gaugeLines(
      "leadscore_edge_expensive_reads_in_flight",
      "Expensive reads (searches, exports, older history, event metadata) holding a slot of this edge process.",
      reads.inFlight(),
    ),
    ...counterLines(
      "leadscore_edge_expensive_reads_refused_total",
      "Expensive reads answered 503: every slot taken (busy), or past EXPENSIVE_READ_TIMEOUT_MS (timeout).",
      byLabel("reason", [
        ["busy", refused.busy],
        ["timeout", refused.timedOut],
      ]),
    ),
  ];
}

/** `GET /metrics`: Prometheus text of this edge instance's counters and of the shared queue. */
export function metricsRoute(deps: {
  metrics: EdgeMetrics;
  queue: Queue;
  redis: Redis;
  prefix: string;
  queuedEvents: QueuedEvents;
  now: () => number;
  reads: ExpensiveReads;
}) {
  return new Hono().get("/", async (c) => {
    const gauges = [
      ...(await queueGauges(deps.queue, deps.redis, deps.prefix, deps.queuedEvents, deps.now())),
      ...expensiveReadLines(deps.reads),
    ];
    return c.body(deps.metrics.render(gauges), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
}
