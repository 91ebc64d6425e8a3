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
// in Redis, so another picks it up. A pass checks the lock before each write (its pages' copies in Redis, its commit)
// and its rescan read stops when the lock is lost, so a holder that lost the lock writes nothing more. The pages are
// stored in MongoDB only once their commit landed, as the scorer's are: a commit that does not land writes no page.
import {
  COLLECTIONS,
  type EventDocument,
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
  dropHandOff,
  emptyBreakdown,
  encodePage,
  entryEvent,
  type HandOff,
  handOffMerged,
  idleArchiveOf,
  importMerged,
  indexPlace,
  LEAD_FIELDS,
  type LeadCommit,
  type LiveKeys,
  type LiveLead,
  leadHashFields,
  type PageEntry,
  type PageRef,
  pageDocument,
  REBUILDING,
  readPendingPages,
  resolveLeads,
  restoreIfIdle,
  StaleLiveStateError,
  waitingHandOffs,
} from "@leadscore/live";
import { createLock, findByIds, LockLostError } from "@leadscore/runtime";
import { aliasesOf, asRootEvents, mergedBefore, mergeGroups } from "./merge.ts";
import { movementOf } from "./movement.ts";
import { type CachedPage, cachedPage } from "./page-cache.ts";
import { dropPendingPages, holdPages, retirePages, storeLandedPages, superseded } from "./page-garbage.ts";
import { contentPageId } from "./page-id.ts";
import { foldWholeHistory, type NextState, planLead, scoreUpdateOf } from "./plan.ts";
import { refoldLate } from "./refold.ts";
import { createMissedRematcher, type RescannedLead } from "./rescore-missed.ts";
import { withRescored } from "./rescored.ts";
import { type LiveWriterOptions, liveFields } from "./scorer.ts";

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
  /** The Socket.io emitter messages telling a merged lead's room to follow its root. */
  encodeMerged?(from: string, into: string): [string, Buffer][];
  /** Called with the merges a pass committed. */
  onMerged?(merges: { from: string; into: string; events: number }[]): void;
  /**
   * With several lead partitions: which leads lie in this one, and any lead's partition keys. A lead merged into a
   * root of another partition is handed over there (handOver), whose deep lane folds it.
   */
  partitions?: { owns(leadId: string): boolean; keysFor(leadId: string): LiveKeys };
  /** Runs between a merged lead's hand-off and its delivery to the root's partition (tests stop a pass there). */
  beforeDelivery?: (handOff: HandOff) => Promise<void>;
  /**
   * Whether the live state's generation is current. While it is not (a catch-up after a Redis restart, a rebuild) no
   * pass begins: its reads by `lead_id` are scans on the embedded store, where the catch-up's reads of what the
   * restart lost would queue behind them. Unset: always.
   */
  whenCurrent?: () => Promise<boolean>;
  /** Runs between a pass's holding its new pages and its commit (tests interleave a rival commit here). */
  beforeCommit?: () => Promise<void>;
  /** Runs as soon as a pass's commit returned, before anything else it does (tests stop a pass there). */
  afterCommit?: () => Promise<void>;
}

export interface DeepLaneStats {
  /** Leads the lane committed, by whether the pass read MongoDB for them. */
  folded: { memory: number; pages: number; rescan: number; merge: number };
  /** History pages a pass needed, by where they came from. */
  pagesRead: { memory: number; store: number };
  passes: number;
  /** Leads waiting at the last look. */
  waiting: number;
  /** Merged leads handed over to their root's partition, and hand-offs taken there. */
  handedOver: number;
}

interface Owned {
  lead: LiveLead | null;
  list: CompactEvent[];
  rescans: string;
  /** How many events of the deep-lane list were read, when `list` holds fewer of them (ownCopies). */
  read?: number;
}

const LOCK_MS = 30_000;

/** The events waiting on a lead's deep list. */
const waitingEvents = (leadId: string, owned: Owned) => owned.list.map((event) => decodeEvent(leadId, event));

/** The ids of a lead's history pages. */
const pageIdsOf = (owned: Owned | undefined) => (owned?.lead?.pages ?? []).map((ref) => ref.id);

/**
 * A rescanned lead with only the waiting events whose stored copy is its own (or a merged id's): the stored copy of an
 * event id (`events`, `_id` = `event_id`) decides its lead, so a copy waiting here while another lead's is stored is a
 * duplicate, folded nowhere here. Every waiting event was stored before it was listed, so the rescan's read holds it.
 * The commit still drops every event it read from the list.
 */
function ownCopies(leadId: string, owned: Owned, stored: readonly ScorableEvent[]): Owned {
  const ids = new Set(stored.map((event) => event.event_id));
  const list = owned.list.filter((event) => ids.has(decodeEvent(leadId, event).event_id));
  return list.length === owned.list.length ? owned : { ...owned, list, read: owned.list.length };
}

/** A lead to rescan as `rematchMissed` takes it: its stored events, what its live history holds, its profile. */
function rescannedLead(
  leadId: string,
  owned: Owned,
  stored: ScorableEvent[],
  history: { get(id: string): CachedPage | undefined },
): RescannedLead {
  const held = new Set([
    ...pageIdsOf(owned).flatMap((pageId) => (history.get(pageId)?.events ?? []).map((event) => event.event_id)),
    ...(owned.lead?.tail ?? []).map((entry) => entry.event_id),
    ...owned.list.map((event) => decodeEvent(leadId, event).event_id),
  ]);
  const { lead } = owned;
  const profile = lead ? { name: lead.name, email: lead.email, company: lead.company } : null;
  return { leadId, stored, held, profile };
}

export function createDeepLane(options: DeepLaneOptions) {
  const { db, redis, keys, cap, thresholds, log } = options;
  const halfLife = () => options.halfLife?.() ?? null;
  const now = options.now ?? Date.now;
  const idleMs = options.idleMs ?? 200;
  const maxLeads = options.maxLeads ?? 200;
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const rematchMissed = createMissedRematcher({ db, now });
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const idleArchive = idleArchiveOf(db);
  const lock = createLock({ redis, key: keys.deepLock, ttlMs: LOCK_MS });
  const stats: DeepLaneStats = {
    folded: { memory: 0, pages: 0, rescan: 0, merge: 0 },
    pagesRead: { memory: 0, store: 0 },
    passes: 0,
    waiting: 0,
    handedOver: 0,
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
    // A lead the deep lane folds gets back what it shed while idle (idle.ts) first.
    await restoreIfIdle(redis, idleArchive, keys, ids);
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

  /**
   * One pass over the leads the lane owns (up to maxLeads): plan those the live state places alone, refold the pages
   * late events land in, rescan those whose stored events are asked for, then insert the new pages and commit.
   */
  async function pass(signal: AbortSignal): Promise<number> {
    if (options.whenCurrent && !(await options.whenCurrent())) return 0;
    const handed = options.partitions ? await handOver(options.partitions) : 0;
    const asked = await redis.hgetall(keys.deep);
    const ids = Object.keys(asked).slice(0, maxLeads);
    stats.waiting = Object.keys(asked).length;
    if (ids.length === 0) return handed;
    stats.passes += 1;
    const owned = await readOwned(ids, asked);
    // Leads merged into another (merge.ts) are folded into their root, which is read too when it is not owned.
    const merges = await mergeGroups(redis, keys, ids);
    // A lead whose root lies in another partition is handed over (handOver), never folded here.
    for (const [root, away] of merges) {
      if (options.partitions?.owns(root) !== false) continue;
      merges.delete(root);
      for (const id of away) owned.delete(id);
    }
    const unread = [...merges.keys()].filter((root) => !owned.has(root));
    for (const [id, item] of unread.length > 0 ? await readOwned(unread, asked) : []) owned.set(id, item);
    const at = now();
    const { plans, needPages, needRescan } = planFromMemory(owned, merges);
    const inMemory = plans.size;
    const history = createPageReader(signal);
    // A rescan folds the whole history: every page.
    await history.fetchMissing(needRescan.flatMap((id) => pageIdsOf(owned.get(id))));
    // Stored events a re-score missed (a batch died before its commit) are matched under its version first.
    const read = await readStoredEvents(needRescan, signal);
    const stored = await rematchMissed(
      needRescan.map((id) => rescannedLead(id, owned.get(id) as Owned, read.get(id) ?? [], history)),
      () => lock.check(),
      signal,
    );
    await refoldLatePages(needPages, owned, history, plans);
    await foldMerges(merges, needRescan, owned, history, plans);
    for (const id of needRescan) {
      const item = ownCopies(id, owned.get(id) as Owned, read.get(id) ?? []);
      owned.set(id, item);
      const pages = pageIdsOf(item).map((pageId) => history.get(pageId) as CachedPage);
      plans.set(id, rescanned(id, item, [...(stored.get(id) ?? []), ...pages.flatMap((page) => page.events)], pages));
      stats.folded.rescan += 1;
    }
    stats.folded.memory += inMemory;
    const docs = await holdNewPages(plans, at);
    await options.beforeCommit?.();
    await commit(plans, owned, at, merges, docs);
    return ids.length;
  }

  /**
   * The first step of merges across lead partitions: each lead this lane owns that resolves to a root of another
   * partition is taken out of this one into a hand-off (its state, history refs, waiting events, merged-from list and
   * aliases), which the root's partition takes into its own deep lane; then the hand-off is dropped here. A hand-off
   * left waiting (a crash, the root's partition rebuilding) is taken first on the next pass; each is taken once, by
   * its number, so a repeat changes nothing. Returns the hand-offs delivered.
   */
  async function handOver(partitions: NonNullable<DeepLaneOptions["partitions"]>): Promise<number> {
    let delivered = 0;
    for (const waiting of await waitingHandOffs(redis, keys)) {
      if (await deliver(waiting, partitions)) delivered += 1;
    }
    const ids = Object.keys(await redis.hgetall(keys.deep)).slice(0, maxLeads);
    const away = [...(await resolveLeads(redis, keys, ids))].filter(([, root]) => !partitions.owns(root));
    if (away.length === 0) return delivered;
    // A lead handed over gets back what it shed while idle first, so its hand-off holds all of it.
    await restoreIfIdle(
      redis,
      idleArchive,
      keys,
      away.map(([id]) => id),
    );
    for (const [from, root] of away) {
      await lock.check();
      const handOff = await handOffMerged(redis, keys, options.generation(), from, root);
      if (handOff === "stale") throw new StaleLiveStateError("the live state was wiped or is being rebuilt");
      if (typeof handOff === "string") continue;
      await options.beforeDelivery?.(handOff);
      if (await deliver(handOff, partitions)) delivered += 1;
    }
    return delivered;
  }

  /** Hands a hand-off to its root's partition, following the root if it was merged meanwhile; true once taken. */
  async function deliver(handOff: HandOff, partitions: NonNullable<DeepLaneOptions["partitions"]>): Promise<boolean> {
    let sent = handOff;
    for (let tries = 0; tries < 8; tries += 1) {
      const there = partitions.keysFor(sent.root);
      const gen = await redis.get(there.gen);
      // Not while that partition is being rebuilt: the hand-off waits here for the next pass.
      if (gen === null || gen.startsWith(REBUILDING)) return false;
      await lock.check();
      const taken = await importMerged(redis, there, gen, sent);
      switch (taken.outcome) {
        case "ok":
        case "done":
          await repoint(sent, partitions);
          await dropHandOff(redis, keys, sent.from);
          stats.handedOver += 1;
          return true;
        case "stale":
          return false;
        case "moved": {
          const wire = JSON.parse(sent.wire) as { root: string };
          sent = { ...sent, root: taken.root, wire: JSON.stringify({ ...wire, root: taken.root }) };
          continue;
        }
        default:
          log.warn("merged lead not handed over: its root resolves elsewhere", { ...taken, from: sent.from });
          return false;
      }
    }
    return false;
  }

  /**
   * Points the ids merged into a handed-off lead from other partitions at its root, each in its own partition's map
   * (this partition's were pointed on when the merge was recorded), so every id still resolves in one hop there — for
   * the reads and guards that resolve it; its events would reach the root through the hops anyway.
   */
  async function repoint(handOff: HandOff, partitions: NonNullable<DeepLaneOptions["partitions"]>): Promise<void> {
    const { aliases } = JSON.parse(handOff.wire) as { aliases: string[] | Record<string, never> };
    const away = Array.isArray(aliases) ? aliases.filter((id) => !partitions.owns(id)) : [];
    await Promise.all(away.map((id) => redis.hset(partitions.keysFor(id).aliases, id, handOff.root)));
  }

  /**
   * Folds each root with the leads merged into it: each merged lead's pages (by id), tail and list slotted into the
   * root's history (refoldMerged), or, when an event id occurs twice, the root's pages, tail and list and theirs as
   * one history from scratch. A root whose stored events are to be rescanned is left to the rescan, which reads the
   * merged ids' stored events too.
   */
  async function foldMerges(
    merges: Map<string, string[]>,
    needRescan: string[],
    owned: Map<string, Owned>,
    history: ReturnType<typeof createPageReader>,
    plans: Map<string, NextState>,
  ): Promise<void> {
    const roots = [...merges.keys()].filter((root) => !needRescan.includes(root));
    await history.fetchMissing(
      roots.flatMap((root) => [root, ...(merges.get(root) ?? [])].flatMap((id) => pageIdsOf(owned.get(id)))),
    );
    for (const root of roots) {
      const item = owned.get(root) as Owned;
      const pagesOf = (id: string) => pageIdsOf(owned.get(id)).map((pageId) => history.get(pageId) as CachedPage);
      const merged = (merges.get(root) ?? []).flatMap((id) => {
        const away = owned.get(id) as Owned;
        const tail = (away.lead?.tail ?? []).map(entryEvent);
        return [...pagesOf(id).flatMap((page) => page.events), ...tail, ...waitingEvents(id, away)];
      });
      const rootPages = pagesOf(root);
      const brought = asRootEvents(root, merged);
      const slotted = refoldMerged(root, item, brought, rootPages, history);
      plans.set(
        root,
        slotted ?? rescanned(root, item, [...rootPages.flatMap((page) => page.events), ...brought], rootPages),
      );
      stats.folded.merge += 1;
    }
  }

  /**
   * A merge as late events (refold.ts): the merged lead's events slotted into the root's history, so only the pages
   * from the first one they land in are folded again, from the state stored before it, and the pages after are kept
   * once the score and tally before them are the stored ones. Null when an event id occurs twice among the root's
   * history, its waiting events and the merged ones: the whole fold then decides which copy counts.
   */
  function refoldMerged(
    root: string,
    item: Owned,
    brought: ScorableEvent[],
    rootPages: CachedPage[],
    history: ReturnType<typeof createPageReader>,
  ): NextState | null {
    const own = waitingEvents(root, item);
    const ids = new Set<string>();
    const all = [rootPages.flatMap((page) => page.events), item.lead?.tail ?? [], own, brought];
    for (const list of all) {
      for (const { event_id } of list) {
        if (ids.has(event_id)) return null;
        ids.add(event_id);
      }
    }
    const result = refoldLate({
      pages: item.lead?.pages ?? [],
      tail: item.lead?.tail ?? [],
      waiting: [...brought, ...own],
      cap,
      base: item.lead?.base ?? { score: 0, count: 0, reachedAt: null },
      breakdown: item.lead?.breakdown ?? emptyBreakdown(),
      page: (pageId) => history.get(pageId),
      newPageId: (entries, startTally) => contentPageId(root, entries, startTally),
      halfLife: halfLife(),
    });
    // Every page of the root was read before.
    if (result.kind === "missing") throw new Error(`history page ${result.pages[0]} is missing`);
    return result.next;
  }

  /**
   * The leads whose waiting events the live state places alone (planned here), and those that need their history
   * pages (a late event) or their stored events (a rescan was asked for).
   */
  function planFromMemory(owned: Map<string, Owned>, merges: Map<string, string[]>) {
    const plans = new Map<string, NextState>();
    const needPages: string[] = [];
    const needRescan: string[] = [];
    const mergedAway = new Set([...merges.values()].flat());
    for (const [id, item] of owned) {
      if (mergedAway.has(id)) continue;
      if (item.rescans !== "0") {
        needRescan.push(id);
        continue;
      }
      if (merges.has(id)) continue;
      const plan = planLead(
        item.lead,
        waitingEvents(id, item),
        [],
        cap,
        (entries, startTally) => contentPageId(id, entries, startTally),
        halfLife(),
      );
      if (plan.kind === "needTail") throw new Error(`lead ${id} was read without its tail`);
      if (plan.kind === "commit") plans.set(id, plan.next);
      else if (plan.kind === "divert") needPages.push(id);
      else plans.set(id, sameState(item.lead));
    }
    return { plans, needPages, needRescan };
  }

  /** The stored events of the leads to rescan, by lead. */
  async function readStoredEvents(leadIds: string[], signal: AbortSignal): Promise<Map<string, ScorableEvent[]>> {
    const stored = new Map<string, ScorableEvent[]>();
    if (leadIds.length === 0) return stored;
    // Events stored under an id before it was merged are the root's.
    const rootOf = await aliasesOf(redis, keys, leadIds);
    const ids = [...leadIds, ...rootOf.keys()];
    const docs = await events.find({ lead_id: { $in: ids } }, { projection: { metadata: 0 }, signal }).toArray();
    for (const doc of docs) {
      const root = rootOf.get(doc.lead_id) ?? doc.lead_id;
      const list = stored.get(root) ?? [];
      list.push(toScorable(root === doc.lead_id ? doc : { ...doc, lead_id: root }));
      stored.set(root, list);
    }
    // A lead a retroactive publish re-scored folds with the candidates it re-matched (a merged id's, under its id).
    const merged = new Map<string, string[]>();
    for (const [id, root] of rootOf) merged.set(root, [...(merged.get(root) ?? []), id]);
    return withRescored(db, stored, signal, (root) => merged.get(root) ?? []);
  }

  /** A pass's history pages: from the page cache, else from MongoDB (one query per fetch), counted. */
  function createPageReader(signal: AbortSignal) {
    const read = new Map<string, CachedPage>();
    const get = (id: string) => {
      let page = read.get(id);
      if (page) return page;
      page = options.pageCache?.get(id);
      if (page) {
        read.set(id, page);
        stats.pagesRead.memory += 1;
      }
      return page;
    };
    const fetch = async (ids: Iterable<string>) => {
      const wanted = [...ids];
      if (wanted.length === 0) return;
      stats.pagesRead.store += wanted.length;
      // One `_id` lookup per page: an `$in` is a scan of every stored page on the embedded store.
      const docs = await findByIds(pages, wanted, { signal });
      // A page whose commit landed and whose insert has not (yet) is held in Redis (page-garbage.ts).
      const stored = new Set(docs.map((doc) => doc._id));
      const pending = await readPendingPages(
        redis,
        keys,
        wanted.filter((id) => !stored.has(id)),
      );
      for (const doc of [...docs, ...pending]) {
        const count = (JSON.parse(doc.entries) as PageEntry[]).length;
        options.pageCache?.put(doc._id, doc.lead_id, doc.entries, count, doc.tally ?? "");
        read.set(doc._id, cachedPage(doc.lead_id, doc.entries, count, doc.tally ?? ""));
      }
      const lost = wanted.find((id) => !read.has(id));
      if (lost !== undefined) throw new Error(`history page ${lost} is missing`);
    };
    /** Reads the pages neither this pass nor the cache holds. */
    const fetchMissing = (ids: string[]) => fetch(ids.filter((id) => !get(id)));
    return { get, fetch, fetchMissing };
  }

  /**
   * Folds the late events into the pages they change (refold.ts): from the cache, a few more pages fetched at each
   * step that finds one missing.
   */
  async function refoldLatePages(
    leadIds: string[],
    owned: Map<string, Owned>,
    history: ReturnType<typeof createPageReader>,
    plans: Map<string, NextState>,
  ): Promise<void> {
    for (let left = leadIds; left.length > 0; left = left.filter((id) => !plans.has(id))) {
      const missing = new Set<string>();
      for (const id of left) {
        const item = owned.get(id) as Owned;
        const result = refoldLate({
          pages: item.lead?.pages ?? [],
          tail: item.lead?.tail ?? [],
          waiting: waitingEvents(id, item),
          cap,
          base: item.lead?.base ?? { score: 0, count: 0, reachedAt: null },
          breakdown: item.lead?.breakdown ?? emptyBreakdown(),
          page: (pageId) => history.get(pageId),
          newPageId: (entries, startTally) => contentPageId(id, entries, startTally),
          halfLife: halfLife(),
        });
        if (result.kind === "missing") for (const pageId of result.pages) missing.add(pageId);
        else {
          plans.set(id, result.next);
          stats.folded.pages += 1;
        }
      }
      if (missing.size > 0) await history.fetch(missing);
    }
  }

  /**
   * A lead's history laid out anew from every event it has: stored (`known`: its stored events and its pages'), its
   * tail's and its waiting list's (the first copy of an id wins). Leading pages whose entries are what is stored for
   * them keep their ids; from the first that differs on, pages are written anew.
   */
  function rescanned(leadId: string, owned: Owned, known: ScorableEvent[], stored: CachedPage[]): NextState {
    const tail = (owned.lead?.tail ?? []).map(entryEvent);
    const refs = owned.lead?.pages ?? [];
    // Laid out as its pages were while they come out the same (a refold's grown pages included), so those are kept.
    const next = foldWholeHistory(
      [...known, ...tail, ...waitingEvents(leadId, owned)],
      cap,
      (entries, startTally) => contentPageId(leadId, entries, startTally),
      halfLife(),
      refs,
    );
    let kept = 0;
    while (kept < next.newPages.length) {
      const id = refs[kept]?.id;
      const page = next.newPages[kept] as NextState["newPages"][number];
      const same = stored[kept]?.encoded === encodePage(page.entries) && stored[kept]?.tally === page.startTally;
      if (id === undefined || !same) break;
      kept += 1;
    }
    const pages = (next.pages as PageRef[]).map((ref, n) => (n < kept ? { ...ref, id: refs[n]?.id as string } : ref));
    return { ...next, pages, newPages: next.newPages.slice(kept) };
  }

  /**
   * Holds the pages the plans settle in Redis (checking the lock first), as the scorer does: MongoDB stores them only
   * once their commit landed (storePages), so a commit that does not land writes no page (page-garbage.ts).
   */
  async function holdNewPages(plans: Map<string, NextState>, at: number): Promise<Map<string, HistoryPageDocument[]>> {
    const written = new Date(at);
    const docs = new Map(
      [...plans].map(([leadId, next]) => [
        leadId,
        next.newPages.map((page) => pageDocument(page.id, leadId, page.entries, written, page.startTally)),
      ]),
    );
    const all = [...docs.values()].flat();
    if (all.length === 0) return docs;
    await lock.check();
    await holdPages(redis, keys, all);
    return docs;
  }

  /**
   * After the commits: stores the pages of those that landed (whatever the lock: the live state names them now), keeps
   * them in the page cache and drops their copies; drops at once the copies of the others, never stored.
   */
  async function storePages(
    plans: Map<string, NextState>,
    docs: Map<string, HistoryPageDocument[]>,
    committed: Set<string>,
  ): Promise<void> {
    const landed = [...plans].flatMap(([leadId, next]) =>
      committed.has(leadId) ? [{ leadId, newPages: next.newPages, docs: docs.get(leadId) ?? [] }] : [],
    );
    await storeLandedPages(pages, redis, keys, landed, options.pageCache);
    await dropPendingPages(
      redis,
      keys,
      [...docs].flatMap(([leadId, own]) => (committed.has(leadId) ? [] : own)),
    );
  }

  /** Commits the plans (checking the lock first), then reports the lags and updates of the leads committed. */
  async function commit(
    plans: Map<string, NextState>,
    owned: Map<string, Owned>,
    at: number,
    merges: Map<string, string[]>,
    docs: Map<string, HistoryPageDocument[]>,
  ): Promise<void> {
    const updates: ScoreUpdate[] = [];
    const commits: LeadCommit[] = [];
    const halfLifeSeconds = halfLife();
    for (const [id, next] of plans) {
      const item = owned.get(id) as Owned;
      const place = indexPlace(next, at, cap, thresholds, halfLifeSeconds);
      const update = updateOf(id, item, next);
      if (update) updates.push({ ...update, stage: place.stage });
      const written = liveFields(next, item.lead, at, thresholds);
      if (written.fields.stage !== undefined) written.fields.stage = place.stage;
      commits.push({
        leadId: id,
        mode: isEmptyRoot(id, item, next, merges) ? "emptyRoot" : "deep",
        expected: item.lead?.version ?? 0,
        ...written,
        movement: movementOf(item.lead ?? null, next, waitingEvents(id, item), thresholds, halfLifeSeconds),
        ...place,
        updatedAt: at,
        pending: [],
        messages: [],
        drained: item.read ?? item.list.length,
        rescans: Number(item.rescans),
      });
    }
    const messages = options.encodeUpdates(updates);
    for (const commit of commits) commit.messages = messages.get(commit.leadId) ?? [];
    // After their roots (the script removes a merged lead only if its root committed earlier in the same call).
    // Events that reached an id after its merge committed: folded into the root, the merge not announced again. The
    // log is read after the root's state: a merge committed in between moved the root's version, so the root's commit
    // below fails its compare-and-set, and the removal with it.
    const again = await mergedBefore(redis, keys, new Map([...merges].filter(([root]) => plans.has(root))));
    for (const [root, away] of merges) {
      if (!plans.has(root)) continue;
      // The root's scores either side of this commit, as its `lead.merged` message carries them.
      const scoreBefore = owned.get(root)?.lead?.score ?? 0;
      const scoreAfter = plans.get(root)?.score ?? scoreBefore;
      for (const id of away) {
        const item = owned.get(id) as Owned;
        const events = (item.lead?.count ?? 0) + item.list.length;
        const record = again.has(id) ? undefined : { from: id, into: root, events, at, scoreBefore, scoreAfter };
        commits.push({
          leadId: id,
          mode: record ? "mergedAway" : "mergedAgain",
          ...(record && { record }),
          into: root,
          expected: item.lead?.version ?? 0,
          fields: {},
          rankKey: 0,
          updatedAt: at,
          stage: stageFor(0, thresholds),
          pending: [],
          messages: record ? (options.encodeMerged?.(id, root) ?? []) : [],
          drained: item.list.length,
        });
      }
    }
    await lock.check();
    const outcomes = await commitLeads(redis, keys, options.generation(), commits);
    await options.afterCommit?.();
    const committedAt = now();
    const committed = new Set(commits.filter((_, index) => outcomes[index] === "committed").map((c) => c.leadId));
    // A lead merged away names no page any more: its history is folded into its root's, under the root's pages.
    const mergedPages = commits.flatMap((c) =>
      c.mode === "mergedAway" && committed.has(c.leadId)
        ? (owned.get(c.leadId)?.lead?.pages ?? []).map((p) => p.id)
        : [],
    );
    await storePages(plans, docs, committed);
    await retirePages(redis, keys, [...retiredBy(plans, owned, committed), ...mergedPages]);
    const lags = [...committed].flatMap((id) => (owned.get(id)?.list ?? []).map((event) => committedAt - event[3]));
    if (lags.length > 0) options.onLags?.(lags);
    const merged = commits.flatMap((c, index) => (c.record && outcomes[index] === "committed" ? [c.record] : []));
    if (merged.length > 0) options.onMerged?.(merged);
    const done = updates.filter((update) => committed.has(update.lead_id));
    if (done.length > 0) await options.onCommitted?.(done);
  }

  /**
   * A merge's root that has no live state and gets no event from the merge (two ids merged before either had one):
   * committing it would list an empty lead, so it is only released; its first event creates it as any lead's does.
   */
  function isEmptyRoot(id: string, item: Owned, next: NextState, merges: Map<string, string[]>): boolean {
    return merges.has(id) && item.lead === null && next.count === 0;
  }

  /**
   * The pages a pass's commits left unreferenced: those a committed lead's new page list no longer names (the new pages
   * of a lead whose commit did not land were never stored).
   */
  function retiredBy(plans: Map<string, NextState>, owned: Map<string, Owned>, committed: Set<string>): string[] {
    return [...plans].flatMap(([id, next]) => {
      if (!committed.has(id) || next.pages === null) return [];
      return superseded(owned.get(id)?.lead?.pages ?? [], next.pages);
    });
  }

  /** A lead's update: the newest event of its list, or its newest entry when the list held none. */
  function updateOf(leadId: string, owned: Owned, next: NextState): ScoreUpdate | null {
    const previous = owned.lead?.score ?? 0;
    if (owned.list.length > 0) return scoreUpdateOf(leadId, previous, next, waitingEvents(leadId, owned), thresholds);
    const newest = next.tail.at(-1);
    return newest ? scoreUpdateOf(leadId, previous, next, [newest], thresholds) : null;
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
      ...(lead?.tally && { tally: lead.tally }),
      breakdown: lead?.breakdown ?? emptyBreakdown(),
      pages: lead?.pages ?? [],
      newPages: [],
    };
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
    /**
     * Stops the passes. With `finishWithinMs`, passes then go on until no lead waits or that time is up: a batch that
     * handed a lead to the lane has completed its jobs, so a process that stops (SIGTERM) folds what it handed over
     * rather than leaving it to the next process's lane.
     */
    async stop(options: { finishWithinMs?: number } = {}) {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await running;
      const until = performance.now() + (options.finishWithinMs ?? 0);
      try {
        while (performance.now() < until && (await lockedPass()) > 0);
      } catch (error) {
        log.warn("deep lane could not finish before stopping", { error: (error as Error).message });
      }
      await lock.release().catch(() => false);
    },
  };
}

export type DeepLane = ReturnType<typeof createDeepLane>;
