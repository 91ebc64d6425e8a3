/** A deadline waiting in a `Deadlines` set: `expire` runs at `at` unless it is cancelled first. */
interface Deadline {
  at: number;
  expire: () => void;
}

/**
 * Deadlines for many concurrent operations on one timer. A timer per request body costs an event a tenth of its
 * edge CPU (a timer is created and cleared per request, each a trip through the runtime's timer heap); here a
 * request adds an entry to a set and takes it out. Deadlines of one length expire in the order they were set, so
 * each length keeps a set in insertion order and the timer waits for the earliest head; it is armed only when it
 * fires or none is armed, about once per deadline length, not per request. A deadline still expires at its own
 * time, not on a coarse tick.
 */
export function createDeadlines(now: () => number = () => performance.now()) {
  const byLength = new Map<number, Set<Deadline>>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Number.POSITIVE_INFINITY;

  const arm = (at: number) => {
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(fire, Math.max(0, at - now()));
    // Where the runtime allows it (Node), the timer alone does not keep the process up.
    (timer as { unref?: () => void }).unref?.();
  };

  function fire() {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    const time = now();
    let next = Number.POSITIVE_INFINITY;
    for (const deadlines of byLength.values()) {
      for (const deadline of deadlines) {
        if (deadline.at > time) {
          next = Math.min(next, deadline.at);
          break;
        }
        deadlines.delete(deadline);
        deadline.expire();
      }
    }
    if (next < Number.POSITIVE_INFINITY) arm(next);
  }

  return {
    /** Runs `expire` in `ms` unless `cancel` is called with the returned handle first. */
    set(ms: number, expire: () => void): Deadline {
      const deadline = { at: now() + ms, expire };
      let deadlines = byLength.get(ms);
      if (!deadlines) {
        deadlines = new Set();
        byLength.set(ms, deadlines);
      }
      deadlines.add(deadline);
      if (deadline.at < timerAt) arm(deadline.at);
      return deadline;
    },
    cancel(deadline: Deadline, ms: number): void {
      // The timer stays armed even with nothing left to wait for: a body read lasts microseconds, so clearing it
      // would mean a timer per request again. It fires once, finds nothing due and is not armed again.
      byLength.get(ms)?.delete(deadline);
    },
  };
}
export type Deadlines = ReturnType<typeof createDeadlines>;
