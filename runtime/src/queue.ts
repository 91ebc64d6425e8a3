import type { MergeRequest, QueuedEvent } from "@leadscore/contracts";
import type { JobOptions } from "bull";
import { redisScript, type ScriptClient } from "./scripts.ts";

/** The Bull queue every accepted event goes through. */
export const EVENTS_QUEUE = "events";

/**
 * One Bull job: a micro-batch of events accepted together by one edge process, or merges of ids (an identify, an
 * admin merge), which travel the same durable queue so that they are answered only once queued.
 */
export interface EventsJob {
  v: 1;
  events: QueuedEvent[];
  merges?: MergeRequest[];
  /**
   * Events sent on by the worker of another lead partition, their lead ids resolved to a root of this one: they were
   * counted in once at the edge, so they do not count in the day's activity again when scored.
   */
  forwarded?: true;
}

/** Bull options of every events job: retried with backoff on worker errors, removed once done. */
export const EVENTS_JOB_OPTIONS: JobOptions = {
  attempts: 10,
  backoff: { type: "exponential", delay: 500 },
  removeOnComplete: true,
  removeOnFail: false,
};

/** Redis pub/sub channel on which rule changes are announced to every worker. */
export function rulesChannel(prefix: string): string {
  return `${prefix}:rules-changed`;
}

/**
 * Redis key counting the events of the `EVENTS_QUEUE` jobs not yet finished: the edge adds a job's events once Bull
 * has stored it, the worker takes them off once the job has completed or failed for good. Named like the queue's own
 * keys, so it shares their hash slot on Redis Cluster (a prefix such as `{leadscore}`).
 */
export function queuedEventsKey(prefix: string): string {
  return eventsQueueKey(prefix, "queued-events");
}

/** A key of `EVENTS_QUEUE` in Bull's layout (`<prefix>:events:<name>`; a job's hash is named by its id). */
export function eventsQueueKey(prefix: string, name: string): string {
  return `${prefix}:${EVENTS_QUEUE}:${name}`;
}

/** The Bull lists and sets of `EVENTS_QUEUE` that hold unfinished jobs. */
export function pendingJobKeys(prefix: string): string[] {
  return ["wait", "active", "delayed", "paused"].map((state) => eventsQueueKey(prefix, state));
}

/**
 * Reads the queued-events count, set back to 0 whenever the queue holds no unfinished job and repaired when below 0,
 * with the number of unfinished jobs (see the script's header). KEYS: `queuedEventsKey`, then the four
 * `pendingJobKeys`. Read through `readQueuedEvents`.
 */
export const READ_QUEUED_EVENTS = redisScript<[number, number]>(
  new URL("./lua/read-queued-events-5.lua", import.meta.url),
);

/** A read of a queue's queued-events count: the count as stored (never below 0) and the unfinished jobs. */
export interface QueuedEventsReading {
  count: number;
  jobs: number;
}

/** Reads `prefix`'s queued-events count and unfinished jobs in one step. */
export async function readQueuedEvents(redis: ScriptClient, prefix: string): Promise<QueuedEventsReading> {
  const [count, jobs] = await READ_QUEUED_EVENTS.run(redis, [queuedEventsKey(prefix), ...pendingJobKeys(prefix)]);
  return { count: Number(count), jobs: Number(jobs) };
}
