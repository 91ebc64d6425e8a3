// Scores a batch of queued events into MongoDB: stores the events, folds each touched lead's history with the pure
// `foldScores`, writes the history entries, then commits each lead with a compare-and-set on its `version`.
//
// Per lead, one of two paths:
// - fast (the usual case): every event of the batch is new and newer than the lead's newest scored event, so the
//   fold continues from the lead's current state and only appends entries;
// - slow (a late event, a replayed or duplicate event, or a lost compare-and-set): recompute from the earliest
//   touched sort key k — start from the history entry just before k, fold every stored event at or after k, and
//   rewrite those entries.
//
// Why the last successful compare-and-set leaves history and lead consistent, without transactions:
// 1. A round stores its events, THEN reads the lead and its `version`, THEN reads history and events, writes the
//    history entries, and last writes the lead only if `version` is unchanged. A round that stored events ends in a
//    successful lead write, or redoes its leads, or dies — and then the queue re-runs its job, whose events are
//    found already stored, which takes the slow path from their keys.
// 2. Let R be the round whose lead write is the last to succeed, and e any stored event of the lead, stored by T.
//    T (or its redo, or its re-run) also wrote the lead successfully, so before R did. It cannot have written between
//    R's read and R's write (R's version would have changed), so it wrote before R read. Hence at R's read e was
//    stored and T's result, which includes e, was committed: R either starts from that state or a later one built
//    on it (fast path), or reads e among the stored events at or after its key (slow path), or e lies before R's
//    key, in the entries R starts from (3).
// 3. Every history entry was last written by some round. A round that lost its lead write, or died, is redone over
//    a range that covers what it wrote, later than it wrote; so each entry's last write comes from a successful
//    round, computed from complete inputs by (2). The entries therefore equal the fold, and the lead's fields —
//    the last entry's score, seq, score_reached_at and sort key — agree with them.
// The fast path needs nothing but the state read: the batch stored every one of the lead's events itself (an event
// already stored may be a dead round's leftover, not yet folded anywhere) and all are newer than the lead's newest
// folded event. A round that lost its compare-and-set decides again from the lead as the winner left it: it still
// appends when the winner's events were all older than its own, and recomputes otherwise.
//
// With `leases`, a worker scores only leads nobody else is scoring, so lost compare-and-sets become rare (a lease
// that lapses under a stalled worker is still caught by the compare-and-set). On FerretDB they are what keeps two
// workers' lead writes apart: its update is not atomic, so two compare-and-sets on one lead could both succeed.
import { randomUUID } from "node:crypto";
import {
  COLLECTIONS,
  type EventDocument,
  type FoldResult,
  type FoldState,
  foldScores,
  type HistoryDocument,
  type HistoryEntry,
  type LeadDocument,
  type Logger,
  type QueuedEvent,
  type ScoreUpdate,
  type StageThresholds,
  sortKey,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import type { AnyBulkWriteOperation, Db, Filter } from "mongodb";
import type { Leases } from "./leases.ts";
import type { RuleMatch } from "./rules-cache.ts";
import { bulkWriteChunked, insertNew, mapLimit, type StoreLimits } from "./store.ts";

export interface ScorerOptions {
  db: Db;
  cap: number;
  thresholds: StageThresholds;
  ruleFor(eventType: string): RuleMatch;
  limits: StoreLimits;
  log: Logger;
  now?: () => number;
  /** Compare-and-set rounds per lead before the batch fails (and is retried whole). */
  maxRounds?: number;
  /** Runs after the history is written and before the leads' compare-and-set (tests interleave a rival here). */
  beforeCommit?: () => Promise<void>;
  /** Keeps other workers off the leads of a round while it runs; without it only the compare-and-set decides. */
  leases?: Leases;
}

export interface BatchResult {
  /** One per lead whose new state was committed, in no particular order. */
  updates: ScoreUpdate[];
  /** Events stored for the first time by this batch. */
  stored: number;
  /** Events already stored (replays, or the same id sent twice): their stored copy was used. */
  duplicates: number;
  /** Newly stored events older than their lead's newest scored event. */
  late: number;
  /** Extra rounds caused by lost compare-and-sets. */
  retries: number;
  /** For every newly stored event: accepted by the edge → its lead committed, in ms. */
  lagsMs: number[];
}

/** What the batch brought to one lead. */
interface Touched {
  leadId: string;
  /** Events this batch stored for the first time, in arrival order. */
  fresh: EventDocument[];
  /** Earliest sort key among this batch's events of the lead (stored copies for duplicates). */
  fromKey: string;
  hasDuplicate: boolean;
  /** The batch's newest event of the lead, announced with the update. */
  newest: Pick<EventDocument, "_id" | "event_type" | "timestamp" | "sort_key">;
  /** Fresh events older than the lead's newest scored event when the batch first read the lead. */
  late?: number;
}

type LeadState = Pick<
  LeadDocument,
  "_id" | "current_score" | "event_count" | "last_sort_key" | "score_reached_at" | "version" | "write_id"
>;

/** The score fields a lead has (a lead created through the API has none until its first event). */
const LEAD_STATE_PROJECTION = {
  _id: 1,
  current_score: 1,
  event_count: 1,
  last_sort_key: 1,
  score_reached_at: 1,
  version: 1,
  write_id: 1,
} as const;

interface Plan {
  touched: Touched;
  lead: LeadState | undefined;
  slow: boolean;
  fold: FoldResult;
  /** For entries this round writes first: the event arrived after a newer one of the lead was scored. */
  lateBefore: string | null;
  /** Slow path: the entries already stored in the recomputed range, by event id. */
  existing: Map<string, StoredEntry>;
}

type StoredEntry = Pick<
  HistoryDocument,
  "_id" | "lead_id" | "sort_key" | "delta" | "score" | "reason" | "seq" | "score_reached_at" | "late"
>;

/** What the slow path reads for each lead: stored events and history entries from its key, and the state before. */
interface Ranges {
  events: Map<string, EventDocument[]>;
  entries: Map<string, Map<string, StoredEntry>>;
  starts: Map<string, FoldState>;
}

const ENTRY_PROJECTION = {
  lead_id: 1,
  sort_key: 1,
  delta: 1,
  score: 1,
  reason: 1,
  seq: 1,
  score_reached_at: 1,
  late: 1,
} as const;

const ZERO: FoldState = { score: 0, count: 0, reachedAt: null };
const OR_CHUNK = 100;

const dateOrNull = (ms: number | null) => (ms === null ? null : new Date(ms));
const msOrNull = (date: Date | null | undefined) => (date ? new Date(date).getTime() : null);

/** Whether a stored entry already says what the fold computed (its event's own fields never change). */
function sameEntry(stored: StoredEntry, entry: HistoryEntry): boolean {
  return (
    stored.delta === entry.delta &&
    stored.score === entry.score &&
    stored.reason === entry.reason &&
    stored.seq === entry.seq &&
    stored.score_reached_at !== undefined &&
    msOrNull(stored.score_reached_at) === entry.score_reached_at
  );
}

function historyFields(entry: HistoryEntry): Omit<HistoryDocument, "_id" | "late"> {
  return {
    event_id: entry.event_id,
    lead_id: entry.lead_id,
    event_type: entry.event_type,
    timestamp: new Date(entry.timestamp),
    received_at: new Date(entry.received_at),
    points: entry.points,
    delta: entry.delta,
    score: entry.score,
    reason: entry.reason,
    rule_id: entry.rule_id,
    sort_key: entry.sort_key,
    seq: entry.seq,
    score_reached_at: dateOrNull(entry.score_reached_at),
  };
}

export function createScorer(options: ScorerOptions) {
  const { db, cap, thresholds, limits, log } = options;
  const now = options.now ?? Date.now;
  const maxRounds = options.maxRounds ?? 20;
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const history = db.collection<HistoryDocument>(COLLECTIONS.history);
  const leads = db.collection<LeadDocument>(COLLECTIONS.leads);

  /** Stores the batch's events; returns what each touched lead got, keyed by lead id. */
  async function storeEvents(batch: readonly QueuedEvent[], result: BatchResult): Promise<Map<string, Touched>> {
    const docs: EventDocument[] = [];
    const seen = new Set<string>();
    for (const event of batch) {
      if (seen.has(event.event_id)) continue;
      seen.add(event.event_id);
      // Points and rule are fixed now, at first storage, and never change afterwards.
      const rule = options.ruleFor(event.event_type);
      docs.push({
        _id: event.event_id,
        lead_id: event.lead_id,
        event_type: event.event_type,
        timestamp: new Date(event.timestamp),
        received_at: new Date(event.received_at),
        metadata: event.metadata,
        points: rule.points,
        rule_id: rule.rule_id,
        sort_key: sortKey(event.timestamp, event.event_id),
      });
    }
    const existing = await insertNew(events, docs);
    result.duplicates += batch.length - docs.length + existing.size;
    const touched = new Map<string, Touched>();
    const touch = (doc: EventDocument, fresh: boolean) => {
      let entry = touched.get(doc.lead_id);
      if (!entry) {
        entry = { leadId: doc.lead_id, fresh: [], fromKey: doc.sort_key, hasDuplicate: false, newest: doc };
        touched.set(doc.lead_id, entry);
      }
      if (fresh) entry.fresh.push(doc);
      else entry.hasDuplicate = true;
      if (doc.sort_key < entry.fromKey) entry.fromKey = doc.sort_key;
      if (doc.sort_key > entry.newest.sort_key) entry.newest = doc;
    };
    docs.forEach((doc, index) => {
      if (!existing.has(index)) touch(doc, true);
    });
    result.stored += docs.length - existing.size;
    if (existing.size > 0) {
      // The stored copy wins, whatever this copy says — even its lead.
      const ids = [...existing].map((index) => docs[index]?._id as string);
      const stored = await events.find({ _id: { $in: ids } }, { projection: { metadata: 0 } }).toArray();
      for (const doc of stored) touch(doc, false);
    }
    return touched;
  }

  async function readLeads(ids: string[]): Promise<Map<string, LeadState>> {
    const docs = await leads
      .find({ _id: { $in: ids } } as Filter<LeadDocument>, { projection: LEAD_STATE_PROJECTION })
      .toArray();
    return new Map(docs.map((doc) => [doc._id, doc as LeadState]));
  }

  /** The fold state just before `key`: from the history entry that precedes it. */
  async function stateBefore(leadId: string, key: string): Promise<FoldState> {
    const previous = await history.findOne(
      { lead_id: leadId, sort_key: { $lt: key } },
      { sort: { sort_key: -1 }, projection: { score: 1, seq: 1, score_reached_at: 1, sort_key: 1 } },
    );
    if (!previous) return ZERO;
    // Entries written by this worker carry seq and score_reached_at; others are rebuilt from the history itself.
    const count =
      previous.seq ?? (await history.countDocuments({ lead_id: leadId, sort_key: { $lte: previous.sort_key } }));
    let reachedAt: number | null;
    if (previous.score_reached_at !== undefined) {
      reachedAt = previous.score_reached_at === null ? null : new Date(previous.score_reached_at).getTime();
    } else {
      const changed = await history.findOne(
        { lead_id: leadId, sort_key: { $lt: key }, delta: { $ne: 0 } },
        { sort: { sort_key: -1 }, projection: { timestamp: 1 } },
      );
      reachedAt = changed ? new Date(changed.timestamp).getTime() : null;
    }
    return { score: previous.score, count, reachedAt };
  }

  /** Stored events and history entries at or after each lead's key: one indexed `$or` query per chunk of leads. */
  async function readRanges(touched: Touched[]): Promise<Ranges> {
    const ranges: Ranges = { events: new Map(), entries: new Map(), starts: new Map() };
    for (const t of touched) {
      ranges.events.set(t.leadId, []);
      ranges.entries.set(t.leadId, new Map());
    }
    const chunks: Touched[][] = [];
    for (let from = 0; from < touched.length; from += OR_CHUNK) chunks.push(touched.slice(from, from + OR_CHUNK));
    const clauses = (chunk: Touched[]) => chunk.map((t) => ({ lead_id: t.leadId, sort_key: { $gte: t.fromKey } }));
    await Promise.all([
      ...chunks.map(async (chunk) => {
        const docs = await events.find({ $or: clauses(chunk) }, { projection: { metadata: 0 } }).toArray();
        for (const doc of docs) ranges.events.get(doc.lead_id)?.push(doc);
      }),
      ...chunks.map(async (chunk) => {
        const docs = await history.find({ $or: clauses(chunk) }, { projection: ENTRY_PROJECTION }).toArray();
        for (const doc of docs) ranges.entries.get(doc.lead_id)?.set(doc._id, doc);
      }),
      mapLimit(touched, limits.readConcurrency, async (t) => {
        ranges.starts.set(t.leadId, await stateBefore(t.leadId, t.fromKey));
      }),
    ]);
    return ranges;
  }

  /**
   * The same from one query per collection for all the leads, split by key in memory. FerretDB evaluates every
   * query over the whole collection (an `$or` of many clauses costs that many times over), so there this is far
   * cheaper; on MongoDB it would read each lead's whole history.
   */
  async function readRangesInBulk(touched: Touched[]): Promise<Ranges> {
    const ranges: Ranges = { events: new Map(), entries: new Map(), starts: new Map() };
    const fromKey = new Map(touched.map((t) => [t.leadId, t.fromKey]));
    const ids = [...fromKey.keys()];
    const latest = new Map<string, StoredEntry>();
    for (const id of ids) {
      ranges.events.set(id, []);
      ranges.entries.set(id, new Map());
    }
    await Promise.all([
      events
        .find({ lead_id: { $in: ids } }, { projection: { metadata: 0 } })
        .toArray()
        .then((docs) => {
          for (const doc of docs) {
            if (doc.sort_key >= (fromKey.get(doc.lead_id) ?? "")) ranges.events.get(doc.lead_id)?.push(doc);
          }
        }),
      history
        .find({ lead_id: { $in: ids } }, { projection: ENTRY_PROJECTION })
        .toArray()
        .then((docs) => {
          for (const doc of docs) {
            if (doc.sort_key >= (fromKey.get(doc.lead_id) ?? "")) ranges.entries.get(doc.lead_id)?.set(doc._id, doc);
            else if (doc.sort_key > (latest.get(doc.lead_id)?.sort_key ?? "")) latest.set(doc.lead_id, doc);
          }
        }),
    ]);
    await mapLimit(touched, limits.readConcurrency, async (t) => {
      const previous = latest.get(t.leadId);
      let start = ZERO;
      if (previous?.seq !== undefined && previous.score_reached_at !== undefined) {
        start = { score: previous.score, count: previous.seq, reachedAt: msOrNull(previous.score_reached_at) };
      } else if (previous) {
        // An entry without the worker's bookkeeping (made by hand): the per-lead lookup rebuilds it.
        start = await stateBefore(t.leadId, t.fromKey);
      }
      ranges.starts.set(t.leadId, start);
    });
    return ranges;
  }

  async function plan(pending: Touched[]): Promise<Plan[]> {
    // The version is read first; everything the fold uses is read after it (see the note at the top).
    const states = await readLeads(pending.map((t) => t.leadId));
    const plans: Plan[] = [];
    const slow: Touched[] = [];
    for (const touched of pending) {
      const lead = states.get(touched.leadId);
      const last = lead?.last_sort_key ?? null;
      touched.late ??= last === null ? 0 : touched.fresh.filter((doc) => doc.sort_key < last).length;
      const inOrder = last === null || touched.fromKey > last;
      if (!touched.hasDuplicate && inOrder) {
        const start: FoldState = {
          score: lead?.current_score ?? 0,
          count: lead?.event_count ?? 0,
          reachedAt: lead?.score_reached_at ? new Date(lead.score_reached_at).getTime() : null,
        };
        const fold = foldScores(touched.fresh.map(toScorable), cap, start);
        plans.push({ touched, lead, slow: false, fold, lateBefore: null, existing: new Map() });
      } else {
        slow.push(touched);
      }
    }
    if (slow.length > 0) {
      const ranges = limits.batchLookups ? await readRangesInBulk(slow) : await readRanges(slow);
      for (const touched of slow) {
        const lead = states.get(touched.leadId);
        const stored = (ranges.events.get(touched.leadId) ?? []).map(toScorable);
        const fold = foldScores(stored, cap, ranges.starts.get(touched.leadId) ?? ZERO);
        const existing = ranges.entries.get(touched.leadId) ?? new Map();
        plans.push({ touched, lead, slow: true, fold, lateBefore: lead?.last_sort_key ?? null, existing });
      }
    }
    return plans;
  }

  async function writeHistory(plans: Plan[]): Promise<void> {
    const inserts: HistoryDocument[] = [];
    const changed: HistoryDocument[] = [];
    for (const p of plans) {
      for (const entry of p.fold.history) {
        const stored = p.existing.get(entry.event_id);
        if (!stored) {
          const late = p.lateBefore !== null && entry.sort_key < p.lateBefore;
          inserts.push({ _id: entry.event_id, ...historyFields(entry), late });
        } else if (!sameEntry(stored, entry)) {
          // `late` belongs to the event's first scoring; a recomputation keeps it.
          changed.push({ _id: entry.event_id, ...historyFields(entry), late: stored.late === true });
        }
      }
    }
    let rewrites = changed;
    if (limits.rewriteByReplace && changed.length > 0) {
      // FerretDB: one delete and one insert for all, instead of one scanning update per entry. A reader may miss
      // these entries for a moment; a crash in between leaves them to the re-run, whose range covers them.
      await history.deleteMany({ _id: { $in: changed.map((doc) => doc._id) } });
      inserts.push(...changed);
      rewrites = [];
    }
    // An entry that appeared since it was read was written by a concurrent round that read this event; it is
    // overwritten with this round's view, and whichever lead write wins decides which view stays (see the top).
    const clashes = await insertNew(history, inserts);
    for (const index of clashes) {
      const doc = inserts[index];
      if (doc) rewrites.push(doc);
    }
    if (rewrites.length > 0) {
      await bulkWriteChunked(
        history,
        rewrites.map(({ _id, late: _late, ...fields }) => ({
          updateOne: { filter: { _id }, update: { $set: fields } },
        })),
        limits,
      );
    }
  }

  /**
   * Where the server has no atomic compare-and-set by filter (FerretDB): the plans whose lead is still as the round
   * read it, by one read of them all just before the writes, which then go by `_id` alone.
   */
  async function stillAsRead(plans: Plan[]): Promise<Plan[]> {
    const existing = plans.filter((p) => p.lead !== undefined);
    if (existing.length === 0) return plans;
    const latest = await readLeads(existing.map((p) => p.touched.leadId));
    return plans.filter((p) => {
      if (!p.lead) return true;
      const current = latest.get(p.touched.leadId);
      return current !== undefined && current.version === p.lead.version && current.write_id === p.lead.write_id;
    });
  }

  /** Compare-and-sets every planned lead; returns the plans whose write won. */
  async function commitLeads(plans: Plan[]): Promise<Plan[]> {
    const writeId = randomUUID();
    const at = new Date(now());
    const candidates = limits.versionInFilter ? plans : await stillAsRead(plans);
    const operations: AnyBulkWriteOperation<LeadDocument>[] = candidates.map((p) => {
      const last = p.fold.history.at(-1);
      const fields = {
        current_score: p.fold.score,
        stage: stageFor(p.fold.score, thresholds),
        event_count: p.fold.count,
        last_event_at: last ? new Date(last.timestamp) : null,
        score_reached_at: dateOrNull(p.fold.reachedAt),
        last_sort_key: last?.sort_key ?? p.lead?.last_sort_key ?? null,
        version: (p.lead?.version ?? 0) + 1,
        write_id: writeId,
        updated_at: at,
      };
      if (!p.lead) {
        // Profile fields start empty; the API fills them with `$set` and never touches the fields above.
        return {
          insertOne: {
            document: { _id: p.touched.leadId, name: null, email: null, company: null, ...fields, created_at: at },
          },
        };
      }
      // A lead created through the API has no version until its first score write.
      const version = p.lead.version === undefined ? { $exists: false } : p.lead.version;
      const filter = limits.versionInFilter ? { _id: p.touched.leadId, version } : { _id: p.touched.leadId };
      return { updateOne: { filter: filter as Filter<LeadDocument>, update: { $set: fields } } };
    });
    const inserts = operations.filter((op) => "insertOne" in op).length;
    const outcome = await bulkWriteChunked(leads, operations, limits);
    if (outcome.duplicates === 0 && outcome.inserted === inserts && outcome.matched === candidates.length - inserts) {
      return candidates;
    }
    // The bulk result says how many compare-and-sets lost, not which: the write id says which are ours.
    const after = await readLeads(candidates.map((p) => p.touched.leadId));
    return candidates.filter((p) => after.get(p.touched.leadId)?.write_id === writeId);
  }

  /** One round over the given leads: plan, write history, compare-and-set. Returns the leads whose write won. */
  async function round(pending: Touched[], result: BatchResult): Promise<Set<string>> {
    const plans = await plan(pending);
    await writeHistory(plans);
    await options.beforeCommit?.();
    const won = await commitLeads(plans);
    const committedAt = now();
    for (const p of won) {
      const previous = p.lead?.current_score ?? 0;
      const { newest } = p.touched;
      result.updates.push({
        lead_id: p.touched.leadId,
        current_score: p.fold.score,
        delta: p.fold.score - previous,
        stage: stageFor(p.fold.score, thresholds),
        event_id: newest._id,
        event_type: newest.event_type,
        timestamp: new Date(newest.timestamp).toISOString(),
      });
      result.late += p.touched.late ?? 0;
      for (const doc of p.touched.fresh) result.lagsMs.push(committedAt - new Date(doc.received_at).getTime());
    }
    return new Set(won.map((p) => p.touched.leadId));
  }

  async function scoreBatch(batch: readonly QueuedEvent[]): Promise<BatchResult> {
    const result: BatchResult = { updates: [], stored: 0, duplicates: 0, late: 0, retries: 0, lagsMs: [] };
    if (batch.length === 0) return result;
    const touched = await storeEvents(batch, result);
    let pending = [...touched.values()];
    const leases = options.leases;
    // A dead worker's leases lapse after their time to live; waiting longer than a few of those means trouble.
    const deadline = now() + Math.max(10_000, 3 * (leases?.ttlMs ?? 0));
    let lost = 0;
    let waits = 0;
    while (pending.length > 0) {
      let mine = pending;
      if (leases) {
        const held = await leases.acquire(pending.map((t) => t.leadId));
        mine = pending.filter((t) => held.has(t.leadId));
      }
      if (mine.length === 0) {
        if (now() > deadline) throw new Error(`${pending.length} leads stayed leased by other workers`);
        // Another worker is on these leads for the length of its round: back off rather than poll Redis hard.
        waits += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, 5 * 2 ** waits) * (0.5 + Math.random())));
        continue;
      }
      waits = 0;
      let won: Set<string>;
      try {
        won = await round(mine, result);
      } finally {
        await leases?.release(mine.map((t) => t.leadId));
      }
      const lostNow = mine.filter((t) => !won.has(t.leadId)).length;
      if (lostNow > 0) {
        lost += 1;
        result.retries += lostNow;
        if (lost >= maxRounds) throw new Error(`lead writes still contended after ${maxRounds} rounds`);
        log.debug("lead writes lost to another worker; planning them again", { leads: lostNow });
        // Spread the competitors apart a little before they read again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * lost));
      }
      pending = pending.filter((t) => !won.has(t.leadId));
    }
    return result;
  }

  return { scoreBatch };
}

export type Scorer = ReturnType<typeof createScorer>;
