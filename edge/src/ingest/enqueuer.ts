import type { QueuedEvent } from "@leadscore/contracts";
import { EVENTS_JOB_OPTIONS, type EventsJob } from "@leadscore/runtime";
import type { Queue } from "bull";
import { createBatcher, withDeadline } from "./batcher.ts";

export interface EnqueuerOptions {
  queue: Queue;
  /** A job leaves as soon as it holds this many events… */
  maxEvents?: number;
  /** …or as soon as fewer than this many jobs are on their way to Redis… */
  maxInflight?: number;
  /** …and, under steady traffic, no sooner than this long after the previous job (see `createBatcher`). */
  spacingMs?: number;
  /** A job not confirmed by Redis within this time fails its requests (503). */
  deadlineMs?: number;
  /** Called with each job's size and the seconds it took to be stored. */
  onStored?: (events: number, seconds: number) => void;
}

/**
 * Under steady traffic a job leaves at most every 4 ms: every job costs Bull a script on the edge and two on the
 * worker, whatever its size, and at a few thousand events a second spread over many requests, jobs left alone hold
 * one or two requests each. A request arriving after a quiet spell still leaves at once.
 */
export const JOB_SPACING_MS = 4;
/**
 * A job that already holds this many events leaves without waiting for the spacing: its cost is spread thin enough,
 * and under heavy traffic (many concurrent requests) the wait would only add to every request's latency. At 2,000
 * events/s a spaced job holds ~9 events, so the spacing still applies there.
 */
export const JOB_SPACED_BELOW = 32;

/** Bull options of every events job (shared with the worker, which sends events on to another lead partition). */
export { EVENTS_JOB_OPTIONS };

/**
 * Packs the events of concurrent requests into shared Bull jobs (micro-batching, see `createBatcher`). `submit`
 * resolves only once the job holding the events is stored in Redis, and rejects if it is not confirmed before the
 * deadline, so a request is never acknowledged for events that are not durably queued. One submission always
 * travels in one job.
 */
export function createEnqueuer(options: EnqueuerOptions) {
  const deadlineMs = options.deadlineMs ?? 2000;
  const batcher = createBatcher<QueuedEvent[], void>({
    maxSize: options.maxEvents ?? 500,
    maxInflight: options.maxInflight ?? 2,
    spacingMs: options.spacingMs ?? JOB_SPACING_MS,
    spacedBelow: JOB_SPACED_BELOW,
    size: (events) => events.length,
    async send(submissions) {
      const events = submissions.length === 1 && submissions[0] ? submissions[0] : submissions.flat();
      const job: EventsJob = { v: 1, events };
      const started = performance.now();
      await withDeadline(options.queue.add(job, EVENTS_JOB_OPTIONS), deadlineMs, "the queue");
      options.onStored?.(events.length, (performance.now() - started) / 1000);
      return [];
    },
  });
  return { submit: batcher.submit, flush: batcher.flush };
}
export type Enqueuer = ReturnType<typeof createEnqueuer>;

/**
 * The enqueuers of every lead partition as one: a submission's events go to their leads' partitions (one job per
 * partition present, in parallel). It resolves once every part is stored; if one fails, the request is refused and
 * its ids released, and the parts already stored are scored once whatever the client's retry brings (the worker's
 * write is keyed on `event_id`).
 */
export function partitionedEnqueuer(enqueuers: readonly Enqueuer[], partitionOf: (leadId: string) => number): Enqueuer {
  if (enqueuers.length === 1 && enqueuers[0]) return enqueuers[0];
  return {
    async submit(events: QueuedEvent[]) {
      const parts = new Map<number, QueuedEvent[]>();
      for (const event of events) {
        const partition = partitionOf(event.lead_id);
        const part = parts.get(partition);
        if (part) part.push(event);
        else parts.set(partition, [event]);
      }
      await Promise.all([...parts].map(([partition, part]) => (enqueuers[partition] as Enqueuer).submit(part)));
    },
    async flush() {
      await Promise.all(enqueuers.map((enqueuer) => enqueuer.flush()));
    },
  };
}
