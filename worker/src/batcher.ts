// Gathers the events of the jobs a process holds at once into one scoring batch. While a batch is being written the
// next jobs' events accumulate, so under load a lead hit by several jobs is read and written once, and the number
// of round trips per event falls; when idle a single job is scored at once, so latency does not suffer.

export interface Batcher<T> {
  /** Resolves once a batch holding these items has been processed; rejects with that batch's error. */
  submit(items: T[]): Promise<void>;
  /** Resolves when nothing is queued or running. */
  idle(): Promise<void>;
}

interface Waiting<T> {
  items: T[];
  resolve(): void;
  reject(error: unknown): void;
}

/** One batch at a time, of whole submissions, up to `maxItems` (a larger single submission goes alone). */
export function createBatcher<T>(run: (items: T[]) => Promise<void>, maxItems: number): Batcher<T> {
  const waiting: Waiting<T>[] = [];
  let draining: Promise<void> | undefined;

  const drain = async () => {
    while (waiting.length > 0) {
      const taken: Waiting<T>[] = [];
      let size = 0;
      while (waiting.length > 0) {
        const next = waiting[0] as Waiting<T>;
        if (taken.length > 0 && size + next.items.length > maxItems) break;
        taken.push(next);
        size += next.items.length;
        waiting.shift();
      }
      try {
        await run(taken.flatMap((entry) => entry.items));
        for (const entry of taken) entry.resolve();
      } catch (error) {
        for (const entry of taken) entry.reject(error);
      }
    }
    draining = undefined;
  };

  return {
    submit(items) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ items, resolve, reject });
        draining ??= drain();
      });
    },
    async idle() {
      while (draining) await draining;
    },
  };
}
