import type { QueuedEvent } from "./event.ts";

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
