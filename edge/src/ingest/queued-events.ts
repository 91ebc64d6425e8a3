import { type CountsClient, createQueuedCounts, type Logger, readQueuedEvents } from "@leadscore/runtime";

/**
 * The exact number of events in unfinished jobs (see `queuedEventsKey`): what back-pressure and the
 * `leadscore_queue_depth` gauge go by. The edge adds each job's events once Bull has stored it (gathered for 20 ms,
 * see `createQueuedCounts`); the worker takes them off when the job finishes. The Redis calls go on the queue's own
 * client, so a slow answer holds up Bull's writes, not dedupe claims.
 */
export function createQueuedEvents(
  redis: CountsClient,
  prefix: string,
  log: Logger,
  now: () => number = Date.now,
  partitions: readonly string[] = [prefix],
) {
  // One count per lead partition, each in its queue's slot; the activity is the deployment's.
  const parts = partitions.map((partition) => ({
    prefix: partition,
    counts: createQueuedCounts(redis, partition, log, { sign: 1, activity: "accepted", now, activityPrefix: prefix }),
  }));
  return {
    /**
     * Counts a stored job's events (of lead partition `partition`), in the queue depth and in the last 24 hours'
     * accepted events (`/api/stats`). The job is queued whatever happens here: a failure only logs.
     */
    added(events: number, partition = 0): void {
      parts[partition]?.counts.add(events, true);
    },
    /** Writes the counts gathered so far (shutdown). */
    flush: async () => {
      await Promise.all(parts.map((part) => part.counts.flush()));
    },
    /**
     * The stored count, plus this instance's jobs not yet counted in it, but never fewer than the unfinished jobs (each
     * holds an event at least: other edges' counts lag their jobs, and jobs queued without an edge are never counted
     * in): summed over the partitions. So it reads 0 only while no job waits.
     */
    async read(): Promise<number> {
      const counted = await Promise.all(
        parts.map(async (part) => {
          // Taken with the read sent, in one turn: a count written before it is in the stored one (commands on one
          // connection run in order), one written after it is in this.
          const local = part.counts.pending();
          const { count, jobs } = await readQueuedEvents(redis, part.prefix);
          return Math.max(count + local, jobs);
        }),
      );
      return counted.reduce((sum, count) => sum + count, 0);
    },
  };
}
export type QueuedEvents = ReturnType<typeof createQueuedEvents>;
