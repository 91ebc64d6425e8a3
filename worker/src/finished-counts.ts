// The bookkeeping of finished jobs: the edge counts each job's events in once stored (the queue depth of `/metrics`);
// they are counted out once the job is finished for good, and a completed job's events count as scored for
// `/api/stats`. The jobs of a batch finish within milliseconds of each other, so their counts are gathered for
// `windowMs` and written in one DECRBY and one activity call, rather than two calls per job.
import { countActivity, type Logger, queuedEventsKey } from "@leadscore/runtime";
import type { Redis } from "ioredis";

export interface FinishedCounts {
  /** A job finished for good with `events` events; `scored` when it completed (not failed). */
  add(events: number, scored: boolean): void;
  /** Writes what is gathered now; resolves once written (or refused). */
  flush(): Promise<void>;
}

export function createFinishedCounts(redis: Redis, prefix: string, log: Logger, windowMs = 20): FinishedCounts {
  const key = queuedEventsKey(prefix);
  let out = 0;
  let scored = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<unknown> = Promise.resolve();

  const write = () => {
    clearTimeout(timer);
    timer = undefined;
    const [events, completed] = [out, scored];
    out = 0;
    scored = 0;
    const writes: Promise<unknown>[] = [];
    if (events > 0) {
      writes.push(
        redis.decrby(key, events).catch((error: Error) => {
          log.warn("could not count out finished events", { events, error: error.message });
        }),
      );
    }
    if (completed > 0) {
      writes.push(
        countActivity(redis, prefix, "scored", completed, Date.now()).catch((error: Error) => {
          log.warn("could not count scored events", { events: completed, error: error.message });
        }),
      );
    }
    writing = Promise.all([writing, ...writes]);
  };

  return {
    add(events, completed) {
      if (events === 0) return;
      out += events;
      if (completed) scored += events;
      timer ??= setTimeout(write, windowMs);
    },
    async flush() {
      write();
      await writing;
    },
  };
}
