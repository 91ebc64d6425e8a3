// A socket's requests, run in arrival order with at most a few at once: one socket sending a burst of subscribes
// cannot take more than its share of Redis, and work for a socket that has gone is dropped rather than done.

export interface RequestQueue {
  /** Queues a request; false when `capacity` requests are already waiting (the caller refuses this one). */
  push(task: () => Promise<void>): boolean;
  /** Forgets every waiting request and takes no more; those running finish on their own. */
  drop(): void;
}

export function createRequestQueue(concurrency: number, capacity: number): RequestQueue {
  const waiting: (() => Promise<void>)[] = [];
  let running = 0;
  let dropped = false;

  const next = () => {
    while (!dropped && running < concurrency) {
      const task = waiting.shift();
      if (task === undefined) return;
      running += 1;
      task()
        .catch(() => undefined)
        .finally(() => {
          running -= 1;
          next();
        });
    }
  };

  return {
    push(task) {
      if (dropped) return true;
      if (waiting.length >= capacity) return false;
      waiting.push(task);
      next();
      return true;
    },
    drop() {
      dropped = true;
      waiting.length = 0;
    },
  };
}
