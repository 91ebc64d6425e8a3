// The queue's running counts, kept by every process that queues or finishes jobs: the exact number of events in
// unfinished jobs (`queuedEventsKey`: back-pressure and the queue-depth gauge) and the last 24 hours' activity
// (`/api/stats`). Under load jobs are queued and finished many a millisecond, so their counts are gathered for
// `windowMs` and written in one INCRBY and one activity call, rather than two Redis calls per job.
import { type ActivityKind, countActivity } from "./activity.ts";
import type { Logger } from "./log.ts";
import { queuedEventsKey } from "./queue.ts";
import type { ScriptClient } from "./scripts.ts";

/** The Redis calls used. */
export interface CountsClient extends ScriptClient {
  incrby(key: string, increment: number): Promise<unknown>;
}

export interface QueuedCounts {
  /** Events of a job queued (+1 counts them in) or finished for good (-1 out); `active`: also into the activity. */
  add(events: number, active: boolean): void;
  /** Writes what is gathered now; resolves once written (or refused: a failure only logs). */
  flush(): Promise<void>;
  /** What is gathered and not yet written, signed as it will be: a reader adds it to the stored count. */
  pending(): number;
}

export interface QueuedCountsOptions {
  /** +1 where jobs are queued (the edge), -1 where they finish (the worker). */
  sign: 1 | -1;
  /** The activity the active jobs' events count as. */
  activity: ActivityKind;
  windowMs?: number;
  now?: () => number;
  /** Where the activity is counted, when not under `prefix` (a lead partition's counts go to the deployment's). */
  activityPrefix?: string;
}

export function createQueuedCounts(
  redis: CountsClient,
  prefix: string,
  log: Logger,
  options: QueuedCountsOptions,
): QueuedCounts {
  const key = queuedEventsKey(prefix);
  const now = options.now ?? Date.now;
  let events = 0;
  let active = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<unknown> = Promise.resolve();

  const write = () => {
    clearTimeout(timer);
    timer = undefined;
    const [counted, inActivity] = [events, active];
    events = 0;
    active = 0;
    const failed = (error: Error) =>
      log.warn("could not update the queue's counts", { events: counted, error: error.message });
    const writes: Promise<unknown>[] = [];
    if (counted > 0) writes.push(redis.incrby(key, options.sign * counted).catch(failed));
    if (inActivity > 0)
      writes.push(
        countActivity(redis, options.activityPrefix ?? prefix, options.activity, inActivity, now()).catch(failed),
      );
    writing = Promise.all([writing, ...writes]);
  };

  return {
    add(count, isActive) {
      if (count === 0) return;
      events += count;
      if (isActive) active += count;
      timer ??= setTimeout(write, options.windowMs ?? 20);
    },
    async flush() {
      write();
      await writing;
    },
    pending: () => (events === 0 ? 0 : options.sign * events),
  };
}
