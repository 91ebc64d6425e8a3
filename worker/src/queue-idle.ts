// Whether a lead partition's events queue holds no unfinished job: what the retired-page sweep waits for (on the
// embedded store its delete scans `history_pages` and holds the one writer every insert needs), and what a
// re-score yields to.
//
// Bull's own lists are read, not the `queued-events` count. That count is the edge's: it adds a job's events when it
// queues them, and the worker takes them off when the job finishes. A job queued any other way (a benchmark or a
// replay adding jobs to Bull directly) never enters it, so the worker's finished jobs take it below 0, and read as
// "idle" it let the sweep scan under unbroken traffic: in `bench:worker` at 1M events / 100k leads the store's CPU per
// event grew fivefold over the drain as `history_pages` grew, most of it in the sweep's deletes.
import { eventsQueueKey, pendingJobKeys } from "@leadscore/runtime";
import type { Redis } from "ioredis";

/** A check of `prefix`'s queue: true when its wait, active, delayed and paused jobs are all none (four O(1) reads). */
export function createQueueIdle(redis: Redis, prefix: string): () => Promise<boolean> {
  const [wait, active, delayed, paused] = pendingJobKeys(prefix) as [string, string, string, string];
  return async () => {
    const replies = (await redis.pipeline().llen(wait).llen(active).zcard(delayed).llen(paused).exec()) ?? [];
    return replies.every(([error, count]) => {
      if (error) throw error;
      return count === 0;
    });
  };
}

/**
 * A check of the queues of `prefixes`: true when the oldest job waiting in any of them (the tail of Bull's `wait`
 * list) was added more than `waitedMs` ago — a backlog live traffic does not leave. A job in hand, delayed for a
 * retry or behind a paused queue is no backlog: what a re-score yields to (rescore.ts), so that it does not wait
 * out every chunk while live traffic keeps a job or two in hand at all times. Two O(1) reads per queue.
 */
export function createQueueBacklogged(
  redis: Redis,
  prefixes: readonly string[],
  waitedMs: number,
  now: () => number = Date.now,
): () => Promise<boolean> {
  return async () => {
    for (const prefix of prefixes) {
      const oldest = await redis.lindex(eventsQueueKey(prefix, "wait"), -1);
      if (oldest === null) continue;
      const added = await redis.hget(eventsQueueKey(prefix, oldest), "timestamp");
      // A job taken and finished meanwhile is gone: no backlog.
      if (added !== null && now() - Number(added) > waitedMs) return true;
    }
    return false;
  };
}
