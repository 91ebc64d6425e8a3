import {
  countActivity,
  type Logger,
  pendingJobKeys,
  queuedEventsKey,
  READ_QUEUED_EVENTS_LUA,
} from "@leadscore/runtime";

/** The Redis calls used: on the queue's own client, so a slow answer holds up Bull's writes, not dedupe claims. */
export interface CounterClient {
  incrby(key: string, increment: number): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...args: string[]): Promise<unknown>;
}

/**
 * The exact number of events in unfinished jobs (see `queuedEventsKey`): what back-pressure and the
 * `leadscore_queue_depth` gauge go by. The edge adds each job's events once Bull has stored it; the worker takes them
 * off when the job finishes.
 */
export function createQueuedEvents(redis: CounterClient, prefix: string, log: Logger, now: () => number = Date.now) {
  const key = queuedEventsKey(prefix);
  const keys = [key, ...pendingJobKeys(prefix)];
  return {
    /**
     * Counts a stored job's events, in the queue depth and in the last 24 hours' accepted events (`/api/stats`). The
     * job is queued whatever happens here: a failure only logs.
     */
    added(events: number): void {
      const failed = (error: Error) => log.warn("could not count queued events", { events, error: error.message });
      redis.incrby(key, events).catch(failed);
      countActivity(redis, prefix, "accepted", events, now()).catch(failed);
    },
    async read(): Promise<number> {
      return Number(await redis.eval(READ_QUEUED_EVENTS_LUA, keys.length, ...keys));
    },
  };
}
export type QueuedEvents = ReturnType<typeof createQueuedEvents>;
