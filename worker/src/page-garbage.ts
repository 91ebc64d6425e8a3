// History pages that no lead references any more are deleted, one `_id` at a time (an `_id` equality is the one
// filter FerretDB pushes down: a `$in` or a range would scan `history_pages`). A page stops being referenced when a
// refold writes it anew (the deep lane), when the commit it was written for lost its compare-and-set or handed its
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

/** Pages per sweep step: each is one pipelined HMGET and one `deleteOne`. */
const SWEEP_CHUNK = 200;

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
  /** Stops after this long (the rest waits for the next sweep); unset: until every due page is done. */
  budgetMs?: number;
}

/** Deletes the retired pages past their grace that no lead names; returns how many were deleted. */
export async function sweepRetiredPages(options: SweepOptions): Promise<number> {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const pages = options.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const pagesField = leadHashField("pages");
  let deleted = 0;
  const stopAt = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.budgetMs;
  for (;;) {
    const due = await redis.zrangebyscore(keys.retiredPages, "-inf", now() - RETIRED_GRACE_MS, "LIMIT", 0, SWEEP_CHUNK);
    if (due.length === 0) return deleted;
    const pipeline = redis.pipeline();
    for (const id of due) pipeline.hmget(keys.lead(pageLead(id)), pagesField, IDLE_MARK);
    const lists = (await pipeline.exec()) ?? [];
    const done: string[] = [];
    for (const [index, id] of due.entries()) {
      if (performance.now() >= stopAt) break;
      const [error, read] = lists[index] ?? [null, null];
      if (error) throw error;
      const [list, idle] = read as [string | null, string | null];
      // An idle lead's page list is in its archive (idle.ts): its pages are kept rather than read back here.
      const named = idle !== null || decodePageRefs(list).some((ref) => ref.id === id);
      if (!named) deleted += (await pages.deleteOne({ _id: id })).deletedCount;
      done.push(id);
    }
    if (done.length > 0) await redis.zrem(keys.retiredPages, ...done);
    if (due.length < SWEEP_CHUNK || done.length < due.length) return deleted;
  }
}
