import type { QueuedEvent } from "@leadscore/contracts";

/** The Bull queue every accepted event goes through. */
export const EVENTS_QUEUE = "events";

/** One Bull job: a micro-batch of events accepted together by one edge process. */
export interface EventsJob {
  v: 1;
  events: QueuedEvent[];
}

/** Redis key that marks an event id as seen by the edge (the fast de-duplication path). */
export function dedupeKey(prefix: string, eventId: string): string {
  return `${prefix}:dedupe:${eventId}`;
}

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
 * Reads the queued-events count (KEYS[1]; KEYS[2..5] are `pendingJobKeys`). Its two halves are separate commands, so
 * a process dying between them leaves it off by that job: whenever the queue holds no unfinished job, the count is
 * reset to 0 in the same atomic step, and it never reads below 0.
 */
export const READ_QUEUED_EVENTS_LUA = `
local pending = redis.call("llen", KEYS[2]) + redis.call("llen", KEYS[3]) + redis.call("zcard", KEYS[4]) +
  redis.call("llen", KEYS[5])
local count = tonumber(redis.call("get", KEYS[1]) or "0")
if pending == 0 then
  if count ~= 0 then redis.call("set", KEYS[1], 0) end
  return 0
end
if count < 0 then return 0 end
return count`;
