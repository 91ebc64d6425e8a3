// History pages that no lead references any more are deleted by `_id`, a batch of them in one `deleteMany` of an `$in`:
// on FerretDB every delete scans `history_pages` (even one by `_id`), so a batch costs one scan and a little per page
// where one delete per page cost one scan each (measured at 19,000 pages on a loaded box: one `deleteOne` 1.7–1.9 s,
// ten 10.5–14.2 s, 500 ids in one `deleteMany` 17.8–21.1 s, i.e. ~1.8 s a scan and ~35 ms a page); the worker
// sweeps only while its queue is idle (worker.ts). A page stops being referenced when a refold writes it anew (the deep lane), when the commit it was written for lost its compare-and-set or handed its
// events to the deep lane (the scorer), or when a rebuild lays the history out again; each of them retires the ids it
// superseded into a sorted set (`<prefix>:pages:retired`, by when). Most rewrites leave nothing to retire: a page's
// id follows from its content (page-id.ts), so the same content written again is the page already stored.
//
// The sweep deletes a retired page once RETIRED_GRACE_MS have passed (a history read that took the page list before
// the refold still finds its pages meanwhile), and only if its lead's page list does not name it again (the same
// content laid out anew by a later refold).
import { COLLECTIONS, type HistoryPageDocument } from "@leadscore/contracts";
import { decodePageRefs, IDLE_MARK, type LiveKeys, leadHashField } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { pageLead } from "./page-id.ts";

/** How long a retired page stays readable: longer than any history read takes. */
export const RETIRED_GRACE_MS = 30_000;

/** How often a worker sweeps: a page is deleted within this long after its grace. */
export const RETIRED_SWEEP_MS = 5_000;

/** Pages per sweep batch: one pipelined HMGET and one `deleteMany` (one scan of `history_pages` on FerretDB). */
export const SWEEP_BATCH = 500;

/** Schedules pages no longer referenced for deletion. */
export async function retirePages(redis: Redis, keys: Pick<LiveKeys, "retiredPages">, ids: Iterable<string>) {
  const list = [...ids];
  if (list.length === 0) return;
  const at = Date.now();
  await redis.zadd(keys.retiredPages, ...list.flatMap((id) => [at, id]));
}

/** The ids in `before` that `after` no longer names. */
export function superseded(before: Iterable<{ id: string }>, after: Iterable<{ id: string }>): string[] {
  const kept = new Set([...after].map((ref) => ref.id));
  return [...before].flatMap((ref) => (kept.has(ref.id) ? [] : [ref.id]));
}

export interface SweepOptions {
  db: Db;
  redis: Redis;
  keys: Pick<LiveKeys, "retiredPages" | "lead">;
  now?: () => number;
  /** Starts no batch after this long (the rest waits for the next sweep); unset: until every due page is done. */
  budgetMs?: number;
  /** Most batches (deletes) this sweep runs; unset: no bound but the budget. */
  batches?: number;
  /** Pages per batch (SWEEP_BATCH unless given). */
  batchSize?: number;
}

/** Deletes the retired pages past their grace that no lead names; returns how many were deleted. */
export async function sweepRetiredPages(options: SweepOptions): Promise<number> {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const pages = options.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const pagesField = leadHashField("pages");
  let deleted = 0;
  const stopAt = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.budgetMs;
  const size = options.batchSize ?? SWEEP_BATCH;
  for (let batch = 0; batch < (options.batches ?? Number.POSITIVE_INFINITY); batch += 1) {
    if (performance.now() >= stopAt) return deleted;
    const due = await redis.zrangebyscore(keys.retiredPages, "-inf", now() - RETIRED_GRACE_MS, "LIMIT", 0, size);
    if (due.length === 0) return deleted;
    const pipeline = redis.pipeline();
    for (const id of due) pipeline.hmget(keys.lead(pageLead(id)), pagesField, IDLE_MARK);
    const lists = (await pipeline.exec()) ?? [];
    const unnamed = due.filter((id, index) => {
      const [error, read] = lists[index] ?? [null, null];
      if (error) throw error;
      const [list, idle] = read as [string | null, string | null];
      // An idle lead's page list is in its archive (idle.ts): its pages are kept rather than read back here.
      return idle === null && !decodePageRefs(list).some((ref) => ref.id === id);
    });
    if (unnamed.length > 0) deleted += (await pages.deleteMany({ _id: { $in: unnamed } })).deletedCount;
    await redis.zrem(keys.retiredPages, ...due);
    if (due.length < size) return deleted;
  }
  return deleted;
}
