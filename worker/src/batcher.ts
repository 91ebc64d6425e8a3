// Gathers the events of the jobs a process holds at once into one scoring batch. While a batch is being written the
// next jobs' events accumulate, so under load a lead hit by several jobs is read and written once, and the number
// of round trips per event falls; when idle a single job is scored at once, so latency does not suffer.
//
// Under load, when a batch ends its jobs complete and the queue hands over the next ones one by one: the first would
// start a batch alone, and every other batch would be a small one paying a whole round of lead writes. So after a
// batch, while fewer submissions wait than a full batch holds, the batcher lingers a moment for the rest.
//
// Submissions may name a group (a lead partition, worker.ts): a batch then takes the waiting submissions one group at
// a time in turn, each group's in arrival order, so that one group's backlog never fills every batch while another's
// submissions wait; the run gets the batch's items by group as well.

export interface Batcher<T> {
  /** Resolves once a batch holding these items has been processed; rejects with that batch's error. */
  submit(items: T[], group?: number): Promise<void>;
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
   * Longest wait before a batch that no batch preceded (the first after a quiet spell, or a lane starting): under a
   * trickle, the jobs one flush of an edge queued on several partitions arrive within moments of each other, and
   * without it each started a batch of its own. 0 (the default) scores such a submission at once.
   */
  firstLingerMs?: number;
  /**
   * Batches run at once. With two, one batch's CPU work (the fold, the commit) overlaps the other's wait on the
   * store's inserts; each holds whole submissions, so a submission is in one batch only.
   */
  parallel?: number;
}

interface Waiting<T> {
  items: T[];
  group: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** A batch's items, all of them and by the group of their submission. */
export type BatchRun<T> = (items: T[], byGroup: ReadonlyMap<number, T[]>) => Promise<void>;

/** Batches of whole submissions, `parallel` at a time (one by default). */
export function createBatcher<T>(run: BatchRun<T>, options: BatcherOptions): Batcher<T> {
  const { maxItems, fullAt = Number.POSITIVE_INFINITY, lingerMs = 0, firstLingerMs = 0, parallel = 1 } = options;
  const waiting: Waiting<T>[] = [];
  /** The group a batch last took a submission of: the next take starts after it. */
  let lastGroup = Number.NEGATIVE_INFINITY;
  const lanes = new Set<Promise<void>>();
  /** Lanes inside `run`; the others are about to take waiting submissions. */
  let busy = 0;
  let wake: (() => void) | undefined;

  const full = () =>
    waiting.length >= fullAt || waiting.reduce((items, entry) => items + entry.items.length, 0) >= maxItems;

  const linger = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
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
      // Right after a batch; before a lane's first batch only as long as `firstLingerMs`. One lane lingers at a
      // time; another lane meanwhile takes what is there.
      const pause = ranBefore ? lingerMs : firstLingerMs;
      if (pause > 0 && !full() && wake === undefined) await linger(pause);
      if (waiting.length === 0) break;
      const taken: Waiting<T>[] = [];
      let size = 0;
      while (waiting.length > 0) {
        const index = nextInTurn();
        const next = waiting[index] as Waiting<T>;
        if (taken.length > 0 && size + next.items.length > maxItems) break;
        taken.push(next);
        size += next.items.length;
        waiting.splice(index, 1);
        lastGroup = next.group;
      }
      busy += 1;
      startLanes();
      try {
        const byGroup = new Map<number, T[]>();
        for (const entry of taken) {
          const items = byGroup.get(entry.group);
          if (items) items.push(...entry.items);
          else byGroup.set(entry.group, [...entry.items]);
        }
        await run(
          taken.flatMap((entry) => entry.items),
          byGroup,
        );
        for (const entry of taken) entry.resolve();
      } catch (error) {
        for (const entry of taken) entry.reject(error);
      } finally {
        busy -= 1;
      }
      ranBefore = true;
    }
  };

  /** The oldest waiting submission of the group after the last one taken (wrapping round); one group: the oldest. */
  function nextInTurn(): number {
    let [after, first] = [-1, -1];
    waiting.forEach((entry, index) => {
      const { group } = entry;
      if (first < 0 || group < (waiting[first] as Waiting<T>).group) first = index;
      if (group > lastGroup && (after < 0 || group < (waiting[after] as Waiting<T>).group)) after = index;
    });
    return after >= 0 ? after : first;
  }

  // A new lane starts only when every lane is busy running a batch and submissions wait.
  function startLanes() {
    while (lanes.size < parallel && lanes.size === busy && waiting.length > 0) {
      const lane: Promise<void> = drain().finally(() => lanes.delete(lane));
      lanes.add(lane);
    }
  }

  return {
    submit(items, group = 0) {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ items, group, resolve, reject });
        wake?.();
        startLanes();
      });
    },
    async idle() {
      while (lanes.size > 0) await Promise.all(lanes);
    },
  };
}
