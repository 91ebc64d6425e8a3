import type { EventsJob, QueuedEvent } from "@leadscore/contracts";
import type { JobOptions, Queue } from "bull";

export interface EnqueuerOptions {
  queue: Queue;
  /** A job is sent once it holds this many events… */
  maxEvents?: number;
  /** …or this long after its first event arrived. */
  lingerMs?: number;
  /** A job not confirmed by Redis within this time fails its requests with 503. */
  deadlineMs?: number;
  /** Called with each job's size and the seconds it took to be stored. */
  onStored?: (events: number, seconds: number) => void;
}

/** Bull options of every events job: retried with backoff on worker errors, removed once done. */
export const EVENTS_JOB_OPTIONS: JobOptions = {
  attempts: 10,
  backoff: { type: "exponential", delay: 500 },
  removeOnComplete: true,
  removeOnFail: false,
};

export class EnqueueError extends Error {
  override name = "EnqueueError";
}

interface Pending {
  events: QueuedEvent[];
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Packs the events of concurrent requests into shared Bull jobs (micro-batching). `submit` resolves only once the
 * job holding the events is stored in Redis, and rejects if it is not stored before the deadline — so a request
 * is never acknowledged for events that are not durably queued. One submission always travels in one job.
 */
export function createEnqueuer(options: EnqueuerOptions) {
  const maxEvents = options.maxEvents ?? 500;
  const lingerMs = options.lingerMs ?? 2;
  const deadlineMs = options.deadlineMs ?? 2000;
  let pending: Pending[] = [];
  let pendingEvents = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const inflight = new Set<Promise<void>>();

  const store = async (batch: Pending[]) => {
    const events = batch.length === 1 && batch[0] ? batch[0].events : batch.flatMap((item) => item.events);
    const job: EventsJob = { v: 1, events };
    const started = performance.now();
    let deadline: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        options.queue.add(job, EVENTS_JOB_OPTIONS),
        new Promise<never>((_, reject) => {
          deadline = setTimeout(
            () => reject(new EnqueueError(`queue did not confirm within ${deadlineMs} ms`)),
            deadlineMs,
          );
        }),
      ]);
      options.onStored?.(events.length, (performance.now() - started) / 1000);
      for (const item of batch) item.resolve();
    } catch (error) {
      const failure = error instanceof EnqueueError ? error : new EnqueueError((error as Error).message);
      for (const item of batch) item.reject(failure);
    } finally {
      clearTimeout(deadline);
    }
  };

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    pendingEvents = 0;
    const stored = store(batch);
    inflight.add(stored);
    void stored.finally(() => inflight.delete(stored));
  };

  return {
    submit(events: QueuedEvent[]): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        if (pendingEvents > 0 && pendingEvents + events.length > maxEvents) flush();
        pending.push({ events, resolve, reject });
        pendingEvents += events.length;
        if (pendingEvents >= maxEvents) flush();
        else timer ??= setTimeout(flush, lingerMs);
      });
    },
    /** Sends what is pending now and waits for every job in flight (graceful shutdown). */
    async drain(): Promise<void> {
      flush();
      await Promise.allSettled([...inflight]);
    },
  };
}
export type Enqueuer = ReturnType<typeof createEnqueuer>;
