// Reads whose cost grows with the data — profile searches (`company`, `q`), history older than Redis keeps, an event's
// metadata (a scan of `events` on the embedded store), each page of the CSV export — run in one of a few slots per
// process and under a time limit, so that however many are asked for at once, the hot paths (ingestion, `/healthz`,
// the live reads) keep their share of the CPU, Redis and MongoDB. Past the slots a read waits briefly for one, among
// a few others, then is refused (503 with `Retry-After`): never held for as long as the reads before it take.
import type { FindCursor } from "mongodb";
import { ApiError } from "../errors.ts";

export interface ExpensiveReadLimits {
  /** Expensive reads in progress at once in this process; the next is refused with 503. */
  concurrency: number;
  /** Time one read may take: MongoDB's `maxTimeMS` for each query, and a deadline checked between steps. */
  timeoutMs: number;
  /** How long a read waits for a slot before it is refused (default SLOT_WAIT_MS). */
  slotWaitMs?: number | undefined;
  /** Epoch ms; the app's clock. */
  now?: (() => number) | undefined;
}

/** The time left to one read; every step of the read checks it, and every MongoDB query carries it as `maxTimeMS`. */
export interface ReadBudget {
  /** Milliseconds left (at least 1), for `maxTimeMS`. */
  remainingMs(): number;
  /** Throws the read's 503 once its time is up. */
  check(): void;
  /**
   * Between two steps of a read: throws once its time is up, else waits PACE_RATIO times as long as the read has
   * worked since its previous pause (at most PACE_MAX_MS), so that a read keeps at most a quarter of its time busy.
   * Reads asked for in a loop, each holding a slot, then take at most that share of the CPU and Redis the hot paths
   * share with them.
   */
  pace(): Promise<void>;
  /** The documents of a MongoDB query, read under the budget; the cursor is closed when time runs out. */
  toArray<T>(cursor: FindCursor<T>): Promise<T[]>;
}

export interface ExpensiveReads {
  /**
   * Runs one read in a slot and under a budget; a query past its `maxTimeMS` becomes the budget's 503. With every
   * slot taken it waits up to `waitMs` (default: the limits' `slotWaitMs`) for one, among at most 4 waiters per slot,
   * then throws 503 with `Retry-After`.
   */
  run<T>(read: (budget: ReadBudget) => Promise<T>, options?: { waitMs?: number }): Promise<T>;
  /** Reads holding a slot now. */
  inFlight(): number;
  /** Reads refused since start: slots full, and time limit reached. */
  refused(): { busy: number; timedOut: number };
}

/**
 * How long a read waits for a slot before it is refused, and how many may wait per slot. Waiting parks a client that
 * would otherwise be answered 503 at once and ask again in a tight loop (as one that ignores `Retry-After` does),
 * which costs the edge more than a parked request; the cap keeps the waiters few.
 */
export const SLOT_WAIT_MS = 1_000;
const WAITERS_PER_SLOT = 4;
/** How long a read pauses between two steps, for each ms it worked, and at most (see `ReadBudget.pace`). */
const PACE_RATIO = 3;
const PACE_MAX_MS = 50;

/** MongoDB's error for a query past its `maxTimeMS` (told by code, so the edge needs no driver class). */
const MAX_TIME_EXPIRED = 50;

function isMaxTimeExpired(error: unknown): boolean {
  const { code, codeName } = (error ?? {}) as { code?: unknown; codeName?: unknown };
  return code === MAX_TIME_EXPIRED || codeName === "MaxTimeMSExpired";
}

export function createExpensiveReads(limits: ExpensiveReadLimits): ExpensiveReads {
  const now = limits.now ?? Date.now;
  let inFlight = 0;
  const refused = { busy: 0, timedOut: 0 };

  // A read's steps may each find its time up (its queries run side by side): the read is counted once, as it ends.
  const timeouts = new WeakSet<object>();
  const timedOut = () => {
    const error = new ApiError(
      "SERVICE_UNAVAILABLE",
      `the read took longer than ${limits.timeoutMs} ms (EXPENSIVE_READ_TIMEOUT_MS) and was stopped; narrow it`,
    );
    timeouts.add(error);
    return error;
  };
  /** The error a read ended with: a query past `maxTimeMS` becomes the read's 503. */
  const ended = (error: unknown): unknown => {
    const stopped = isMaxTimeExpired(error) ? timedOut() : error;
    if (typeof stopped === "object" && stopped !== null && timeouts.has(stopped)) refused.timedOut += 1;
    return stopped;
  };

  function budget(): ReadBudget {
    const deadline = now() + limits.timeoutMs;
    const check = () => {
      if (now() >= deadline) throw timedOut();
    };
    // Real time, not the app's clock: a pause is for the machine's sake.
    let working = performance.now();
    return {
      remainingMs: () => Math.max(1, deadline - now()),
      check,
      async pace() {
        check();
        const worked = performance.now() - working;
        await new Promise((resolve) => setTimeout(resolve, Math.min(PACE_RATIO * worked, PACE_MAX_MS)));
        working = performance.now();
        check();
      },
      async toArray<T>(cursor: FindCursor<T>): Promise<T[]> {
        const docs: T[] = [];
        cursor.maxTimeMS(Math.max(1, deadline - now()));
        try {
          // A batch at a time (a document at a time costs the driver twice the CPU), checking the time between.
          while (await cursor.hasNext()) {
            for (const doc of cursor.readBufferedDocuments()) docs.push(doc);
            check();
          }
        } finally {
          // Also when the time is up, so the server stops too.
          await cursor.close();
        }
        return docs;
      },
    };
  }

  // Reads waiting for a slot, first come first served; a read that ends hands its slot to the first.
  const waiting: (() => void)[] = [];

  const busy = () => {
    refused.busy += 1;
    return new ApiError(
      "SERVICE_UNAVAILABLE",
      `${limits.concurrency} expensive reads (searches, exports, older history, event metadata) are in progress ` +
        "in this process (EXPENSIVE_READ_CONCURRENCY); try again",
      [],
      { "Retry-After": "1" },
    );
  };

  async function takeSlot(waitMs: number): Promise<void> {
    if (inFlight < limits.concurrency) {
      inFlight += 1;
      return;
    }
    if (waitMs <= 0 || waiting.length >= WAITERS_PER_SLOT * limits.concurrency) throw busy();
    const handedOver = await new Promise<boolean>((resolve) => {
      const take = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(take), 1);
        resolve(false);
      }, waitMs);
      waiting.push(take);
    });
    if (!handedOver) throw busy();
  }

  function releaseSlot(): void {
    const next = waiting.shift();
    if (next) next();
    else inFlight -= 1;
  }

  return {
    async run(read, options = {}) {
      await takeSlot(options.waitMs ?? limits.slotWaitMs ?? SLOT_WAIT_MS);
      try {
        return await read(budget());
      } catch (error) {
        throw ended(error);
      } finally {
        releaseSlot();
      }
    },
    inFlight: () => inFlight,
    refused: () => ({ ...refused }),
  };
}
