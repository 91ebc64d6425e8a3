// History pages that no lead references any more are deleted by `_id`, one `deleteOne` of an `_id` equality each, a
// few at once (runtime's deleteByIds): the embedded store serves an `_id` equality from its `_id` index on the build
// scripts/services.ts makes, where a `deleteMany` of an `$in` scans `history_pages` whatever the ids; the worker
// sweeps only while its queue is idle (worker.ts). A page stops being referenced when a refold writes it anew (the
// deep lane), when the commit it was written for lost its compare-and-set or handed its events to the deep lane (the
// scorer), or when a rebuild lays the history out again; each of them retires the ids it superseded into a sorted set
// (`<prefix>:pages:retired`, by when). Most rewrites leave nothing to retire: a page's id follows from its content
// (page-id.ts), so the same content written again is the page already stored.
//
// The sweep deletes a retired page once RETIRED_GRACE_MS have passed (a history read that took the page list before
// the refold still finds its pages meanwhile), and only if its lead's page list does not name it again (the same
// content laid out anew by a later refold).
//
// A commit may name a page again while the sweep deletes it: the check is in Redis, the delete in MongoDB. So a writer
// keeps a copy of each page it writes in `<prefix>:pages:pending` from before its commit until MongoDB holds the page,
// and drops it then only if the page is not being deleted (release-pending-pages-2.lua). The sweep claims the pages
// it deletes in one script with the check (claim-retired-pages.lua: they move to `<prefix>:pages:deleting`), deletes
// them, then in one more script takes them out of the deleting set and gets back those a commit named meanwhile, with
// their copies (finish-deleted-pages.lua), which it inserts again before dropping the copies. A page a commit names is
// thus always in MongoDB or pending, whatever interleaves. A writer whose commit did not land drops its copies at once
// (drop-pending-pages.lua: unless a lead names the page, it is being deleted, or another writer holds it since); a
// copy left pending by a writer that died is flushed by the sweep after the grace: inserted when a lead names it, else
// dropped.
import { COLLECTIONS, type HistoryPageDocument } from "@leadscore/contracts";
import {
  decodePageRefs,
  decodePendingPage,
  encodePendingPage,
  IDLE_MARK,
  type LiveKeys,
  leadHashField,
} from "@leadscore/live";
import { deleteByIds, redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Collection, Db } from "mongodb";
import type { PageCache } from "./page-cache.ts";
import { pageLead } from "./page-id.ts";
import { insertNew } from "./store.ts";

// Their KEYS, ARGV and replies: the files.
const CLAIM_RETIRED_PAGES = redisScript<string[]>(new URL("./lua/claim-retired-pages.lua", import.meta.url));
const FINISH_DELETED_PAGES = redisScript<(string | null)[]>(new URL("./lua/finish-deleted-pages.lua", import.meta.url));
const RELEASE_PENDING_PAGES = redisScript<number>(new URL("./lua/release-pending-pages-2.lua", import.meta.url));
const DROP_PENDING_PAGES = redisScript<number>(new URL("./lua/drop-pending-pages.lua", import.meta.url));

const PAGES_FIELD = leadHashField("pages");

/** How long a retired page stays readable: longer than any history read takes. */
export const RETIRED_GRACE_MS = 30_000;

/** How often a worker sweeps: a page is deleted within this long after its grace. */
export const RETIRED_SWEEP_MS = 5_000;

/** Pages per sweep batch: one claim, one pipelined HMGET and a `deleteOne` by `_id` per page. */
export const SWEEP_BATCH = 500;

/** A claim older than this is a sweep that died between its claim and its finish: the next sweep finishes it. */
export const STALE_CLAIM_MS = 5 * 60_000;

type PageKeys = Pick<LiveKeys, "pendingPages" | "deletingPages">;

/** Keeps a copy of each page in `pages:pending`: before the commit that names them (see the header). */
export async function holdPages(redis: Redis, keys: PageKeys, docs: readonly HistoryPageDocument[]): Promise<void> {
  if (docs.length === 0) return;
  await redis.hset(keys.pendingPages, ...docs.flatMap((doc) => [doc._id, encodePendingPage(doc)]));
}

/** Drops the copies of pages MongoDB now holds, except those being deleted; returns how many were kept. */
export async function releasePages(redis: Redis, keys: PageKeys, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  return RELEASE_PENDING_PAGES.run(redis, [keys.pendingPages, keys.deletingPages], [...ids]);
}

/**
 * Drops the copies held for a commit that did not land (its pages are never stored), except those a lead names now,
 * those being deleted and those another writer holds since; returns how many were dropped.
 */
export async function dropPendingPages(
  redis: Redis,
  keys: Pick<LiveKeys, "pendingPages" | "deletingPages" | "lead">,
  docs: readonly HistoryPageDocument[],
): Promise<number> {
  if (docs.length === 0) return 0;
  return DROP_PENDING_PAGES.run(
    redis,
    [keys.pendingPages, keys.deletingPages, ...docs.map((doc) => keys.lead(pageLead(doc._id)))],
    [PAGES_FIELD, IDLE_MARK, ...docs.flatMap((doc) => [doc._id, encodePendingPage(doc)])],
  );
}

/** The pages of a commit that landed: its lead, its new pages (as planned) and their documents, in that order. */
export interface LandedPages {
  leadId: string;
  newPages: readonly { id: string; entries: readonly unknown[]; startTally: string }[];
  docs: readonly HistoryPageDocument[];
}

/**
 * Stores the pages of commits that landed (their copies, held since before the commits, are what a reader finds
 * meanwhile), keeps them in the page cache, then drops the copies.
 */
export async function storeLandedPages(
  pages: Collection<HistoryPageDocument>,
  redis: Redis,
  keys: PageKeys,
  landed: readonly LandedPages[],
  cache: PageCache | undefined,
): Promise<void> {
  const docs = landed.flatMap((item) => item.docs);
  if (docs.length === 0) return;
  await insertNew(pages, docs);
  for (const { leadId, newPages, docs: own } of landed) {
    newPages.forEach((page, index) => {
      cache?.put(page.id, leadId, own[index]?.entries ?? "", page.entries.length, page.startTally);
    });
  }
  await releasePages(
    redis,
    keys,
    docs.map((doc) => doc._id),
  );
}

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
  keys: Pick<LiveKeys, "retiredPages" | "pendingPages" | "deletingPages" | "lead">;
  now?: () => number;
  /** Starts no batch after this long (the rest waits for the next sweep); unset: until every due page is done. */
  budgetMs?: number;
  /** Most batches (deletes) this sweep runs; unset: no bound but the budget. */
  batches?: number;
  /** Pages per batch (SWEEP_BATCH unless given). */
  batchSize?: number;
  /** Runs between a batch's claim and its delete (tests interleave a commit here). */
  beforeDelete?: (claimed: readonly string[]) => Promise<void>;
}

/** Whether each page's lead names it now (or is idle: its pages are kept), one pipelined HMGET. */
async function namedNow(redis: Redis, keys: Pick<LiveKeys, "lead">, ids: readonly string[]): Promise<boolean[]> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.lead(pageLead(id)), PAGES_FIELD, IDLE_MARK);
  return ((await pipeline.exec()) ?? []).map(([error, read], index) => {
    if (error) throw error;
    const [list, idle] = read as [string | null, string | null];
    return idle !== null || decodePageRefs(list).some((ref) => ref.id === ids[index]);
  });
}

/**
 * Copies left pending past the grace: a page a lead names is inserted (its writer died before it did), the others
 * (written for a commit that did not land) are dropped; copies of pages being deleted are left to their sweep.
 */
async function flushPending(options: SweepOptions, pages: Collection<HistoryPageDocument>, before: number) {
  const { redis, keys } = options;
  const stale: HistoryPageDocument[] = [];
  let cursor = "0";
  do {
    const [next, flat] = await redis.hscan(keys.pendingPages, cursor, "COUNT", 500);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) {
      const doc = decodePendingPage(flat[i] as string, flat[i + 1] as string);
      if (doc.written_at.getTime() < before) stale.push(doc);
    }
  } while (cursor !== "0");
  if (stale.length === 0) return;
  const named = await namedNow(
    redis,
    keys,
    stale.map((doc) => doc._id),
  );
  const toStore = stale.filter((_, index) => named[index]);
  if (toStore.length > 0) await insertNew(pages, toStore);
  await releasePages(
    redis,
    keys,
    stale.map((doc) => doc._id),
  );
}

/** Deletes claimed pages, then stores again, from their pending copies, those a commit named meanwhile. */
async function deleteClaimed(options: SweepOptions, pages: Collection<HistoryPageDocument>, claimed: string[]) {
  const { redis, keys } = options;
  if (claimed.length === 0) return 0;
  await options.beforeDelete?.(claimed);
  const deletedCount = await deleteByIds(pages, claimed);
  const leadKeys = claimed.map((id) => keys.lead(pageLead(id)));
  const named = await FINISH_DELETED_PAGES.run(
    redis,
    [keys.deletingPages, keys.pendingPages, ...leadKeys],
    [PAGES_FIELD, IDLE_MARK, ...claimed],
  );
  const back: HistoryPageDocument[] = [];
  for (let i = 0; i < named.length; i += 2) {
    const copy = named[i + 1];
    // A named page's writer keeps its copy while the page is being deleted (release-pending-pages-2.lua).
    if (copy) back.push(decodePendingPage(named[i] as string, copy));
  }
  if (back.length > 0) {
    await insertNew(pages, back);
    await releasePages(
      redis,
      keys,
      back.map((doc) => doc._id),
    );
  }
  return deletedCount - back.length;
}

/** Deletes the retired pages past their grace that no lead names; returns how many were deleted. */
export async function sweepRetiredPages(options: SweepOptions): Promise<number> {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const pages = options.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  let deleted = 0;
  const stopAt = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.budgetMs;
  const size = options.batchSize ?? SWEEP_BATCH;
  await flushPending(options, pages, now() - RETIRED_GRACE_MS);
  // Claims a sweep that died left behind.
  const stale = await redis.zrangebyscore(keys.deletingPages, "-inf", now() - STALE_CLAIM_MS, "LIMIT", 0, size);
  deleted += await deleteClaimed(options, pages, stale);
  for (let batch = 0; batch < (options.batches ?? Number.POSITIVE_INFINITY); batch += 1) {
    if (performance.now() >= stopAt) return deleted;
    const due = await redis.zrangebyscore(keys.retiredPages, "-inf", now() - RETIRED_GRACE_MS, "LIMIT", 0, size);
    if (due.length === 0) return deleted;
    const claimed = await CLAIM_RETIRED_PAGES.run(
      redis,
      [keys.retiredPages, keys.deletingPages, ...due.map((id) => keys.lead(pageLead(id)))],
      [PAGES_FIELD, IDLE_MARK, now(), ...due],
    );
    deleted += await deleteClaimed(options, pages, claimed);
    if (due.length < size) return deleted;
  }
  return deleted;
}
