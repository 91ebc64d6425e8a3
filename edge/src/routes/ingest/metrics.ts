import { byLabel, counterLines, gaugeLines } from "@leadscore/runtime/prometheus";
import type { JobCounts, Queue } from "bull";
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

/** Job counts by state, summed over the queues. */
function summedCounts(all: readonly JobCounts[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const counts of all)
    for (const [state, count] of Object.entries(counts) as [string, number][])
      total[state] = (total[state] ?? 0) + count;
  return total;
}

async function queueGauges(
  queues: readonly Queue[],
  redis: Redis,
  queuedEvents: QueuedEvents,
  now: number,
): Promise<string[]> {
  try {
    // The oldest waiting job is the tail of Bull's wait list; its age is how far the workers lag behind (with lead
    // partitions, the oldest over every partition's queue).
    const oldestOf = async (queue: Queue) => {
      const oldestId = await redis.lindex(queue.toKey("wait"), -1);
      return oldestId ? Number(await redis.hget(queue.toKey(oldestId), "timestamp")) : Number.NaN;
    };
    const read = async () => {
      const [counts, depth, oldest] = await Promise.all([
        Promise.all(queues.map((queue) => queue.getJobCounts())),
        queuedEvents.read(),
        Promise.all(queues.map(oldestOf)),
      ]);
      const oldestAt = Math.min(...oldest.filter(Number.isFinite));
      return { counts: summedCounts(counts), depth, oldestAt };
    };
    const { counts, depth, oldestAt } = await withDeadline(read(), QUEUE_GAUGES_TIMEOUT_MS, "the queue's Redis");
    const lag = Number.isFinite(oldestAt) ? Math.max(0, (now - oldestAt) / 1000) : 0;
    return [
      ...gaugeLines(
        "leadscore_queue_jobs",
        "Jobs in the events queue (every lead partition's), by state (a job holds a micro-batch of events).",
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
  /** Every lead partition's events queue. */
  queues: readonly Queue[];
  redis: Redis;
  queuedEvents: QueuedEvents;
  now: () => number;
  reads: ExpensiveReads;
}) {
  return new Hono().get("/", async (c) => {
    const gauges = [
      ...(await queueGauges(deps.queues, deps.redis, deps.queuedEvents, deps.now())),
      ...expensiveReadLines(deps.reads),
    ];
    return c.body(deps.metrics.render(gauges), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
}
