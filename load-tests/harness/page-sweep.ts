// Retired history pages stay stored for their grace (a history read that took the page list before a refold still
// finds them) and are deleted by the workers' sweep after it (worker/src/page-garbage.ts). The audit counts every
// stored page, so after the drain the run waits for the sweep to empty the retired set, and says what it saw.
import { COLLECTIONS } from "@leadscore/contracts";
import { liveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

/** Longer than the grace (30 s) and one sweep period (5 s) of a worker. */
export const PAGE_SWEEP_WAIT_MS = 45_000;

export interface PageSweepWait {
  /** Pages stored and retired when the queue had drained. */
  atDrain: { stored: number; retired: number };
  /** How long the retired set took to empty; null when it had not within PAGE_SWEEP_WAIT_MS. */
  sweptAfterMs: number | null;
}

export async function awaitPageSweep(db: Db, redis: Redis, redisPrefix: string): Promise<PageSweepWait> {
  const retiredKey = liveKeys(redisPrefix).retiredPages;
  const atDrain = {
    stored: await db.collection(COLLECTIONS.historyPages).estimatedDocumentCount(),
    retired: await redis.zcard(retiredKey),
  };
  const start = performance.now();
  while (performance.now() - start < PAGE_SWEEP_WAIT_MS) {
    if ((await redis.zcard(retiredKey)) === 0) return { atDrain, sweptAfterMs: performance.now() - start };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { atDrain, sweptAfterMs: null };
}
