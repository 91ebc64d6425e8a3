// A socket's requests, run in arrival order with at most a few at once: one socket sending a burst of subscribes
// cannot take more than its share of Redis, and work for a socket that has gone is dropped rather than done. Requests
// with the same key (a lead) never run at once: each waits for the one before it, so a subscribe and the unsubscribe
// sent after it take effect in that order, while requests for other leads go on beside them.

export interface RequestQueue {
  /**
   * Queues a request; false when `capacity` requests are already waiting (the caller refuses this one). A request
   * with a `key` starts only after every earlier request with that key has ended.
   */
  push(task: () => Promise<void>, key?: string): boolean;
  /** Forgets every waiting request and takes no more; those running finish on their own. */
  drop(): void;
}

interface Waiting {
  task: () => Promise<void>;
  key: string | undefined;
}

export function createRequestQueue(concurrency: number, capacity: number): RequestQueue {
  const waiting: Waiting[] = [];
  /** Keys of the requests running now. */
  const busy = new Set<string>();
  let running = 0;
  let dropped = false;

  const next = () => {
    while (!dropped && running < concurrency) {
      // The oldest request whose key is free: an earlier one with the same key is running, or is found first.
      const index = waiting.findIndex((item) => item.key === undefined || !busy.has(item.key));
      if (index < 0) return;
      const [{ task, key }] = waiting.splice(index, 1) as [Waiting];
      running += 1;
      if (key !== undefined) busy.add(key);
      task()
        .catch(() => undefined)
        .finally(() => {
          running -= 1;
          if (key !== undefined) busy.delete(key);
          next();
        });
    }
  };

  return {
    push(task, key) {
      if (dropped) return true;
      if (waiting.length >= capacity) return false;
      waiting.push({ task, key });
      next();
      return true;
    },
    drop() {
      dropped = true;
      waiting.length = 0;
    },
  };
}
