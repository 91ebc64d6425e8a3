export interface BatcherOptions<In, Out> {
  /** Sends the gathered items in one round trip; resolves with one result per item, in order. */
  send: (items: In[]) => Promise<Out[]>;
  /** An item's weight against `maxSize` (e.g. its number of events). */
  size: (item: In) => number;
  /** A batch leaves as soon as its items weigh this much… */
  maxSize: number;
  /** …or as soon as fewer than this many batches are on their way. */
  maxInflight: number;
  /**
   * Under steady traffic, a batch leaves no sooner than this long after the previous one (unless it weighs
   * `maxSize`): the items of a few milliseconds share a batch instead of leaving one or two at a time. An item
   * arriving after a quiet spell of this long still leaves at once. Default 0: no wait.
   */
  spacingMs?: number;
  /**
   * The spacing holds back only batches that weigh less than this: one that weighs as much already amortizes what a
   * batch costs, and holding it would only add latency under heavy traffic. Default: every batch is spaced.
   */
  spacedBelow?: number;
}

interface Waiting<In, Out> {
  item: In;
  resolve: (result: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers items submitted by concurrent requests and sends them together, without timers: while `maxInflight`
 * batches are on their way, new items wait, and they leave together the moment one of those batches is answered
 * (or once they weigh `maxSize`). An idle process sends an item at once; a busy one sends batches as large as its
 * traffic. Items submitted in the same turn of the event loop always share a batch.
 */
export function createBatcher<In, Out>(options: BatcherOptions<In, Out>) {
  let waiting: Waiting<In, Out>[] = [];
  let waitingSize = 0;
  let scheduled = false;
  /** The timer of a flush held back by the spacing; a flush that leaves sooner (at maxSize) clears it. */
  let spaced: ReturnType<typeof setTimeout> | undefined;
  let lastSent = Number.NEGATIVE_INFINITY;
  const spacingMs = options.spacingMs ?? 0;
  const spacedBelow = options.spacedBelow ?? Number.POSITIVE_INFINITY;
  const inflight = new Set<Promise<void>>();

  const send = async (batch: Waiting<In, Out>[]) => {
    try {
      const results = await options.send(batch.map((entry) => entry.item));
      batch.forEach((entry, i) => {
        entry.resolve(results[i] as Out);
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  };

  const flush = () => {
    scheduled = false;
    clearTimeout(spaced);
    spaced = undefined;
    if (waiting.length === 0) return;
    lastSent = performance.now();
    const batch = waiting;
    waiting = [];
    waitingSize = 0;
    const sent = send(batch);
    inflight.add(sent);
    void sent.finally(() => {
      inflight.delete(sent);
      schedule();
    });
  };

  // A microtask, not a timer, when the previous batch left long enough ago: it runs once the current turn's other
  // submissions are in. Otherwise a timer for the rest of the spacing.
  function schedule() {
    if (scheduled || waiting.length === 0 || inflight.size >= options.maxInflight) return;
    scheduled = true;
    const wait = waitingSize >= spacedBelow ? 0 : lastSent + spacingMs - performance.now();
    if (wait > 0) spaced = setTimeout(flush, wait);
    else queueMicrotask(flush);
  }

  return {
    submit(item: In): Promise<Out> {
      return new Promise<Out>((resolve, reject) => {
        const size = options.size(item);
        if (waitingSize > 0 && waitingSize + size > options.maxSize) flush();
        waiting.push({ item, resolve, reject });
        waitingSize += size;
        if (waitingSize >= options.maxSize) flush();
        else if (spaced !== undefined && waitingSize >= spacedBelow) {
          // Held for the spacing, and now heavy enough to go: at once (a microtask, like an unspaced batch).
          clearTimeout(spaced);
          spaced = undefined;
          scheduled = false;
          schedule();
        } else schedule();
      });
    },
    /** Sends whatever waits and resolves once every batch on its way is answered (graceful shutdown). */
    async flush(): Promise<void> {
      flush();
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}

export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Races `work` against a timer. When the timer wins, `onLate` still receives the eventual result, so a write that
 * lands after the caller gave up can be undone.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string, onLate?: (result: T) => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let late = false;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          late = true;
          reject(new DeadlineError(`${what} did not answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (late && onLate) work.then(onLate, () => undefined);
  }
}
