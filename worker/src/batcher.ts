// Gathers the events of the jobs a process holds at once into one scoring batch. While a batch is being written the
// next jobs' events accumulate, so under load a lead hit by several jobs is read and written once, and the number
// of round trips per event falls; when idle a single job is scored at once, so latency does not suffer.
//
// Under load, when a batch ends its jobs complete and the queue hands over the next ones one by one: the first would
// start a batch alone, and every other batch would be a small one paying a whole round of lead writes. So after a
// batch, while fewer submissions wait than a full batch holds, the batcher lingers a moment for the rest.

export interface Batcher<T> {
  /** Resolves once a batch holding these items has been processed; rejects with that batch's error. */
  submit(items: T[]): Promise<void>;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
}

export interface BatcherOptions {
  /** Most items in one batch (a larger single submission goes alone). */
  maxItems: number;
  /** Submissions a full batch holds (the jobs a process holds at once); the linger ends when this many wait. */
  fullAt?: number;
  /** Longest wait, after a batch, for more submissions to arrive; 0 turns lingering off. */
  lingerMs?: number;
  /**
   * Batches run at once. With two, one batch's CPU work (the fold, the commit) overlaps the other's wait on the
   * store's inserts; each holds whole submissions, so a submission is in one batch only.
   */
  parallel?: number;
}

interface Waiting<T> {
  items: T[];
  resolve(): void;
  reject(error: unknown): void;
}

/** Batches of whole submissions, `parallel` at a time (one by default). */
export function createBatcher<T>(run: (items: T[]) => Promise<void>, options: BatcherOptions): Batcher<T> {
  const { maxItems, fullAt = Number.POSITIVE_INFINITY, lingerMs = 0, parallel = 1 } = options;
  const waiting: Waiting<T>[] = [];
  const lanes = new Set<Promise<void>>();
  /** Lanes inside `run`; the others are about to take waiting submissions. */
  let busy = 0;
  let wake: (() => void) | undefined;

  const full = () =>
    waiting.length >= fullAt || waiting.reduce((items, entry) => items + entry.items.length, 0) >= maxItems;

  const linger = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, lingerMs);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = () => {
        if (full()) done();
      };
    });

  const drain = async () => {
    let ranBefore = false;
    while (waiting.length > 0) {
      // Only right after a batch: the first submission after a quiet spell is scored at once. One lane lingers at a
      // time; another lane meanwhile takes what is there.
      if (ranBefore && lingerMs > 0 && !full() && wake === undefined) await linger();
      if (waiting.length === 0) break;
      const taken: Waiting<T>[] = [];
      let size = 0;
      while (waiting.length > 0) {
        const next = waiting[0] as Waiting<T>;
        if (taken.length > 0 && size + next.items.length > maxItems) break;
        taken.push(next);
        size += next.items.length;
        waiting.shift();
      }
      busy += 1;
      startLanes();
      try {
        await run(taken.flatMap((entry) => entry.items));
        for (const entry of taken) entry.resolve();
      } catch (error) {
        for (const entry of taken) entry.reject(error);
      } finally {
        busy -= 1;
      }
      ranBefore = true;
    }
  };

  // A new lane starts only when every lane is busy running a batch and submissions wait.
  function startLanes() {
    while (lanes.size < parallel && lanes.size === busy && waiting.length > 0) {
      const lane: Promise<void> = drain().finally(() => lanes.delete(lane));
      lanes.add(lane);
    }
  }

  return {
    submit(items) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ items, resolve, reject });
        wake?.();
        startLanes();
      });
    },
    async idle() {
      while (lanes.size > 0) await Promise.all(lanes);
    },
  };
}
