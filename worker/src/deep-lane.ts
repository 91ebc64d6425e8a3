// The deep lane: folds the leads whose events cannot be placed from the live state alone — an event older than the
// lead's tail while its older history sits in MongoDB pages, or a duplicate whose stored copy may never have been
// folded. These reads cost what MongoDB charges for them (by `_id` and by `lead_id`: indexed on MongoDB, a scan of
// the collection on FerretDB), so they run here, beside the batches, never inside one: no other lead waits for them.
//
// While a lead is in the deep lane's hash, every commit of it puts its events on the lead's deep list instead, so
// the deep lane is the lead's only writer. A pass takes the lead's state, its list and (when needed) the pages its
// events change (refold.ts) or its stored events, folds them, and commits with the version it read; the commit drops
// the list events it folded and releases the lead once the list is empty and no rescan was asked for meanwhile. A pass
// that only has list events newer than the tail's start folds them from the live state, without MongoDB.
// One process runs the lane at a time (the lock of runtime/src/lock.ts, kept alive through a pass); its state is all
// in Redis, so another picks it up. A pass checks the lock before each write (its pages, its commit) and its rescan
// read stops when the lock is lost, so a holder that lost the lock writes nothing more.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type HistoryPageDocument,
  type ScorableEvent,
  type ScoreUpdate,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import {
  type CompactEvent,
  commitLeads,
  decodeEvent,
  decodeLead,
  decodeLeadHash,
  encodePage,
  entryEvent,
  LEAD_FIELDS,
  type LeadCommit,
  type LiveLead,
  leadHashFields,
  newPageId,
  type PageEntry,
  type PageRef,
  pageDocument,
  pageRef,
  rankKey,
  StaleLiveStateError,
} from "@leadscore/live";
import { createLock, LockLostError } from "@leadscore/runtime";
import { type CachedPage, cachedPage } from "./page-cache.ts";
import { layoutHistory, markLate, type NextState, planLead, scoreUpdateOf } from "./plan.ts";
import { refoldLate } from "./refold.ts";
import { type LiveWriterOptions, liveFields } from "./scorer.ts";
import { insertNew } from "./store.ts";

export interface DeepLaneOptions extends LiveWriterOptions {
  /** Called with the updates a pass committed (the leaderboard follows them). */
  onCommitted?(updates: ScoreUpdate[]): void | Promise<void>;
  /** Called with the lags (acceptance → committed, ms) of the waiting events a pass folded. */
  onLags?(lagsMs: number[]): void;
  /** Called when a commit finds the live state stale (wiped or rebuilding). */
  onStale?(): Promise<void>;
  /** Pause between passes when the lane is empty. */
  idleMs?: number;
  /** Most leads per pass. */
  maxLeads?: number;
}

export interface DeepLaneStats {
  /** Leads the lane committed, by whether the pass read MongoDB for them. */
  folded: { memory: number; pages: number; rescan: number };
  /** History pages a pass needed, by where they came from. */
  pagesRead: { memory: number; store: number };
  passes: number;
  /** Leads waiting at the last look. */
  waiting: number;
}

interface Owned {
  lead: LiveLead | null;
  list: CompactEvent[];
  rescans: string;
}

const LOCK_MS = 30_000;

export function createDeepLane(options: DeepLaneOptions) {
  const { db, redis, keys, cap, thresholds, log } = options;
  const now = options.now ?? Date.now;
  const idleMs = options.idleMs ?? 200;
  const maxLeads = options.maxLeads ?? 200;
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const lock = createLock({ redis, key: keys.deepLock, ttlMs: LOCK_MS });
  const stats: DeepLaneStats = {
    folded: { memory: 0, pages: 0, rescan: 0 },
    pagesRead: { memory: 0, store: 0 },
    passes: 0,
    waiting: 0,
  };
  let running: Promise<void> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  /** Keeps the lock this process holds, or takes it if it is free. */
  async function hold(): Promise<boolean> {
    return (await lock.extend()) || (await lock.acquire()) !== null;
  }

  /** One pass under the lock; 0 when another process holds it. */
  async function lockedPass(): Promise<number> {
    return (await hold()) ? lock.keepAlive((signal) => pass(signal)) : 0;
  }

  async function readOwned(ids: string[], asked: Record<string, string>): Promise<Map<string, Owned>> {
    const pipeline = redis.pipeline();
    for (const id of ids) {
      pipeline.hmget(keys.lead(id), ...leadHashFields(LEAD_FIELDS));
      pipeline.lrange(keys.deepEvents(id), 0, -1);
    }
    const replies = (await pipeline.exec()) ?? [];
    const owned = new Map<string, Owned>();
    ids.forEach((id, index) => {
      const [leadError, values] = replies[2 * index] ?? [null, null];
      const [listError, list] = replies[2 * index + 1] ?? [null, null];
      if (leadError || listError) throw leadError ?? listError;
      owned.set(id, {
        lead: decodeLead(id, decodeLeadHash(LEAD_FIELDS, values as (string | null)[]), cap, thresholds),
        list: (list as string[]).map((item) => JSON.parse(item) as CompactEvent),
        rescans: asked[id] ?? "0",
      });
    });
    return owned;
  }

  /** Every event of the lead: stored (a rescan) or already folded (pages and tail), plus its waiting list. */
  function foldAll(
    leadId: string,
    owned: Owned,
    known: ScorableEvent[],
    refs: PageRef[],
    stored: CachedPage[],
  ): NextState {
    const all = new Map<string, ScorableEvent>();
    for (const event of known) if (!all.has(event.event_id)) all.set(event.event_id, event);
    for (const entry of owned.lead?.tail ?? [])
      if (!all.has(entry.event_id)) all.set(entry.event_id, entryEvent(entry));
    for (const item of owned.list) {
      const event = decodeEvent(leadId, item);
      if (!all.has(event.event_id)) all.set(event.event_id, event);
    }
    const entries = markLate(foldScores([...all.values()], cap, 0).history);
    const layout = layoutHistory(entries);
    // Pages whose entries are unchanged keep their ids; from the first that differs on, pages are written anew.
    const newPages: NextState["newPages"] = [];
    const pages: PageRef[] = [];
    layout.pages.forEach((page, n) => {
      const kept = refs[n]?.id;
      if (kept !== undefined && newPages.length === 0 && stored[n]?.encoded === encodePage(page)) {
        pages.push(pageRef(kept, page));
        return;
      }
      const id = newPageId(leadId);
      newPages.push({ id, entries: page });
      pages.push(pageRef(id, page));
    });
    const last = entries.at(-1);
    return {
      score: last?.score ?? 0,
      count: last?.seq ?? 0,
      reachedAt: last ? last.score_reached_at : null,
      lastKey: last?.sort_key ?? null,
      lastEventAt: last?.timestamp ?? null,
      tail: layout.tail,
      base: layout.base,
      pages,
      newPages,
    };
  }

  async function pass(signal: AbortSignal): Promise<number> {
    const asked = await redis.hgetall(keys.deep);
    const ids = Object.keys(asked).slice(0, maxLeads);
    stats.waiting = Object.keys(asked).length;
    if (ids.length === 0) return 0;
    stats.passes += 1;
    const owned = await readOwned(ids, asked);
    const at = now();
    const inMemory = new Map<string, NextState>();
    const needPages: string[] = [];
    const needRescan: string[] = [];
    for (const [id, item] of owned) {
      if (item.rescans !== "0") {
        needRescan.push(id);
        continue;
      }
      const plan = planLead(
        item.lead,
        item.list.map((event) => decodeEvent(id, event)),
        [],
        cap,
        () => newPageId(id),
      );
      if (plan.kind === "needTail") throw new Error(`lead ${id} was read without its tail`);
      if (plan.kind === "commit") inMemory.set(id, plan.next);
      else if (plan.kind === "divert") needPages.push(id);
      else inMemory.set(id, sameState(item.lead));
    }
    const stored = new Map<string, ScorableEvent[]>();
    if (needRescan.length > 0) {
      const docs = await events
        .find({ lead_id: { $in: needRescan } }, { projection: { metadata: 0 }, signal })
        .toArray();
      for (const doc of docs) {
        const list = stored.get(doc.lead_id) ?? [];
        list.push(toScorable(doc));
        stored.set(doc.lead_id, list);
      }
    }
    // Older history: from the page cache, and from MongoDB for the pages it does not hold (one query per step).
    const read = new Map<string, CachedPage>();
    const lookup = (id: string) => {
      let page = read.get(id);
      if (page) return page;
      page = options.pageCache?.get(id);
      if (page) {
        read.set(id, page);
        stats.pagesRead.memory += 1;
      }
      return page;
    };
    const fetchPages = async (ids: Iterable<string>) => {
      const wanted = [...ids];
      stats.pagesRead.store += wanted.length;
      for (const doc of await pages.find({ _id: { $in: wanted } }, { signal }).toArray()) {
        const count = (JSON.parse(doc.entries) as PageEntry[]).length;
        options.pageCache?.put(doc._id, doc.lead_id, doc.entries, count);
        read.set(doc._id, cachedPage(doc.lead_id, doc.entries, count));
      }
      const lost = wanted.find((id) => !read.has(id));
      if (lost !== undefined) throw new Error(`history page ${lost} is missing`);
    };
    const pageIdsOf = (leadId: string) => (owned.get(leadId)?.lead?.pages ?? []).map((ref) => ref.id);
    // A rescan folds the whole history: every page.
    const wholeHistory = needRescan.flatMap(pageIdsOf).filter((id) => !lookup(id));
    if (wholeHistory.length > 0) await fetchPages(wholeHistory);
    const pagesOf = (leadId: string) => pageIdsOf(leadId).map((id) => read.get(id) as CachedPage);
    // A late event needs only the pages it changes: from the cache, a few more fetched at each step that finds one
    // missing.
    const plans = new Map(inMemory);
    for (let left = needPages; left.length > 0; ) {
      const missing = new Set<string>();
      for (const id of left) {
        const item = owned.get(id) as Owned;
        const result = refoldLate({
          pages: item.lead?.pages ?? [],
          tail: item.lead?.tail ?? [],
          waiting: item.list.map((event) => decodeEvent(id, event)),
          cap,
          pageEvents: (pageId) => lookup(pageId)?.events,
          newPageId: () => newPageId(id),
        });
        if (result.kind === "missing") for (const pageId of result.pages) missing.add(pageId);
        else {
          plans.set(id, result.next);
          stats.folded.pages += 1;
        }
      }
      if (missing.size > 0) await fetchPages(missing);
      left = left.filter((id) => !plans.has(id));
    }
    for (const id of needRescan) {
      const item = owned.get(id) as Owned;
      const known = [...(stored.get(id) ?? []), ...pagesOf(id).flatMap((page) => page.events)];
      plans.set(id, foldAll(id, item, known, item.lead?.pages ?? [], pagesOf(id)));
      stats.folded.rescan += 1;
    }
    stats.folded.memory += inMemory.size;
    const written = new Date(at);
    const newPages = [...plans].flatMap(([leadId, next]) =>
      next.newPages.map((page) => pageDocument(page.id, leadId, page.entries, written)),
    );
    if (newPages.length > 0) {
      await lock.check();
      await insertNew(pages, newPages);
      const written = new Map(newPages.map((doc) => [doc._id, doc.entries]));
      for (const [leadId, next] of plans) {
        for (const page of next.newPages) {
          options.pageCache?.put(page.id, leadId, written.get(page.id) ?? "", page.entries.length);
        }
      }
    }
    const updates: ScoreUpdate[] = [];
    const commits: LeadCommit[] = [];
    for (const [id, next] of plans) {
      const item = owned.get(id) as Owned;
      const newest = item.list.length > 0 ? item.list.map((event) => decodeEvent(id, event)) : null;
      const update = newest
        ? scoreUpdateOf(id, item.lead?.score ?? 0, next, newest, thresholds)
        : latestUpdate(id, item.lead?.score ?? 0, next);
      if (update) updates.push(update);
      commits.push({
        leadId: id,
        mode: "deep",
        expected: item.lead?.version ?? 0,
        ...liveFields(next, item.lead, at, thresholds),
        rankKey: rankKey(next.score, next.reachedAt, cap),
        updatedAt: at,
        stage: stageFor(next.score, thresholds),
        pending: [],
        messages: [],
        drained: item.list.length,
        rescans: Number(item.rescans),
      });
    }
    const messages = options.encodeUpdates(updates);
    for (const commit of commits) commit.messages = messages.get(commit.leadId) ?? [];
    await lock.check();
    const outcomes = await commitLeads(redis, keys, options.generation(), commits);
    const committedAt = now();
    const lags: number[] = [];
    commits.forEach((commit, index) => {
      if (outcomes[index] !== "committed") return;
      for (const event of owned.get(commit.leadId)?.list ?? []) lags.push(committedAt - event[3]);
    });
    if (lags.length > 0) options.onLags?.(lags);
    const committed = updates.filter(
      (update) => outcomes[commits.findIndex((c) => c.leadId === update.lead_id)] === "committed",
    );
    if (committed.length > 0) await options.onCommitted?.(committed);
    return ids.length;
  }

  /** A lead's state unchanged (its list held only events it had already folded). */
  function sameState(lead: LiveLead | null): NextState {
    return {
      score: lead?.score ?? 0,
      count: lead?.count ?? 0,
      reachedAt: lead?.reachedAt ?? null,
      lastKey: lead?.lastKey ?? null,
      lastEventAt: lead?.lastEventAt ?? null,
      tail: lead?.tail ?? [],
      base: lead?.base ?? { score: 0, count: 0, reachedAt: null },
      pages: lead?.pages ?? [],
      newPages: [],
    };
  }

  /** The update of a lead refolded without new list events: its newest entry. */
  function latestUpdate(leadId: string, previous: number, next: NextState): ScoreUpdate | null {
    const newest = next.tail.at(-1);
    return newest ? scoreUpdateOf(leadId, previous, next, [newest], thresholds) : null;
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      let worked = 0;
      try {
        worked = await lockedPass();
      } catch (error) {
        if (error instanceof StaleLiveStateError) await options.onStale?.();
        else if (error instanceof LockLostError)
          log.warn("deep lane lock lost: pass stopped", { error: error.message });
        else log.warn("deep lane pass failed", { error: (error as Error).message });
      }
      if (worked === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, idleMs);
        });
      }
    }
  }

  return {
    stats,
    /** Runs passes until stopped. */
    start() {
      running ??= loop();
    },
    /** One pass now (tests); resolves with the number of leads it looked at. */
    async runOnce(): Promise<number> {
      return lockedPass();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await running;
      await lock.release().catch(() => false);
    },
  };
}

export type DeepLane = ReturnType<typeof createDeepLane>;
