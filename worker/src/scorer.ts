// Scores a batch of queued events: stores them in MongoDB (insert only: a duplicate id is an insert conflict, which
// costs the same at any size), reads the touched leads' live state from Redis, folds each with the pure planner
// (plan.ts), commits every lead with one compare-and-set script call per chunk of leads (which also publishes each
// lead's `score_update`), and inserts the history pages that settle for the commits that landed (held in Redis from
// before the commit until then: page-garbage.ts). No MongoDB read, update or delete on this path.
//
// Why the live state stays the exact fold of the stored events:
// - events are stored before the lead is read, and a lead's state only changes through the commit script, which
//   compares the version read; a round that lost a compare-and-set reads the lead again and plans again — an event
//   it finds in the tail was folded by the winner and is skipped;
// - a round that dies after storing its events is run again by the queue: its events are then duplicates; one in
//   the tail was folded, any other goes to the deep lane, which folds the lead from its stored events;
// - a lead whose events reach back past its tail goes to the deep lane too; while the deep lane owns a lead, every
//   commit of it hands its events to the deep lane's list instead (deep-lane.ts).
import {
  COLLECTIONS,
  type DeadLetterDocument,
  type EventDocument,
  type HistoryPageDocument,
  keyOf,
  type LeadProfile,
  type QueuedEvent,
  type ScorableEvent,
  type ScoreUpdate,
  type StageThresholds,
  stageFor,
  storedCandidates,
} from "@leadscore/contracts";
import {
  type CommitOutcome,
  commitLeads,
  decodeLead,
  decodeLeadHash,
  encodeEvent,
  encodePageRefs,
  foldFields,
  IDLE_MARK,
  idleArchiveOf,
  indexPlace,
  type LeadCommit,
  type LeadHash,
  type LeadHashField,
  type LiveKeys,
  type LiveLead,
  leadHashFields,
  PLAN_FIELDS,
  pageDocument,
  pageRef,
  resolveLeads,
  restoreIdleLeads,
  stateFields,
  tallyFields,
  withTail,
} from "@leadscore/live";
import type { Logger } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import type { BatchJournal } from "./journal.ts";
import { movementOf } from "./movement.ts";
import type { PageCache } from "./page-cache.ts";
import { dropPendingPages, holdPages, storeLandedPages } from "./page-garbage.ts";
import { contentPageId } from "./page-id.ts";
import { type LeadPlan, type NextState, type PageIds, planLead, scoreUpdateOf } from "./plan.ts";
import type { RuleMatcher } from "./rules-cache.ts";
import type { RulesFence } from "./rules-fence.ts";
import { type InsertOutcome, insertNew, insertReporting } from "./store.ts";

/** What every writer of the live state (the scorer, the deep lane) works with. */
export interface LiveWriterOptions {
  db: Db;
  redis: Redis;
  keys: LiveKeys;
  /** The live state's generation the worker checked (commits into any other are refused). */
  generation(): string;
  cap: number;
  thresholds: StageThresholds;
  /** The Socket.io emitter messages of each update, by lead: the commit script publishes them. */
  encodeUpdates(updates: ScoreUpdate[]): Map<string, [string, Buffer][]>;
  log: Logger;
  now?: () => number;
  /** Pages this process wrote or read (shared by the scorer and the deep lane). */
  pageCache?: PageCache;
  /** The half-life in force (seconds), or null without decay: the fold decays with it and the score index is keyed on it. */
  halfLife?: () => number | null;
}

export interface ScorerOptions extends LiveWriterOptions {
  /** The rule set in force, compiled: an event's candidates are matched against it when it is first stored. */
  rules(): RuleMatcher;
  /** Compare-and-set rounds per lead before the batch fails (and is retried whole). */
  maxRounds?: number;
  /** Leads per commit script call: Redis runs one script at a time, so each call is kept short. */
  commitChunk?: number;
  /** Runs after the pages are written and before the commit (tests interleave a rival here). */
  beforeCommit?: () => Promise<void>;
  /** Where each batch is journaled before its events are stored, and marked done after its commits (journal.ts). */
  journal?: BatchJournal;
  /** Gives each batch the rules to match under, and holds a re-score back until it committed (rules-fence.ts). */
  fence?: RulesFence;
  /**
   * With several lead partitions: which leads lie in this one, and where an event goes whose id resolves to a root in
   * another (onto that partition's queue, as the root's event; see `resolved`).
   */
  forward?: { owns(leadId: string): boolean; send(events: QueuedEvent[]): Promise<void> };
}

export interface BatchResult {
  /** One per lead whose new state was committed, in no particular order. */
  updates: ScoreUpdate[];
  /** Events stored for the first time by this batch. */
  stored: number;
  /** Events already stored (replays, or the same id sent twice). */
  duplicates: number;
  /** Events the store refused, moved to dead letters (not scored) for the first time by this batch. */
  deadLettered: number;
  /** Newly folded events older than their lead's newest scored event. */
  late: number;
  /** Extra rounds caused by lost compare-and-sets. */
  retries: number;
  /** Leads handed to the deep lane, by why. */
  diverted: { pages: number; rescan: number };
  /** For every newly folded event: accepted by the edge → its lead committed, in ms. */
  lagsMs: number[];
}

interface Touched {
  leadId: string;
  fresh: ScorableEvent[];
  duplicates: ScorableEvent[];
  /**
   * The duplicates are stored copies a catch-up found in an unfinished batch: any newer than the lead's newest was
   * never folded (a folded event never sorts after the newest), so it is folded as fresh.
   */
  recovered?: true;
}

/** The events to plan a lead with: a recovered lead's duplicates newer than its newest are fresh. */
function eventsToPlan(t: Touched, lead: LiveLead | null): Pick<Touched, "fresh" | "duplicates"> {
  if (!t.recovered) return t;
  const lastKey = lead?.lastKey ?? null;
  const fresh = t.duplicates.filter((event) => lastKey === null || keyOf(event) > lastKey);
  return { fresh: [...t.fresh, ...fresh], duplicates: t.duplicates.filter((event) => !fresh.includes(event)) };
}

/** A lead as a round read it (PLAN_FIELDS), with its hash as read, to be completed with its tail. */
interface ReadLead<L extends LiveLead | null = LiveLead | null> {
  lead: L;
  hash: LeadHash;
}

/** A lead's profile, as `lead.*` conditions read it. */
const PROFILE_FIELDS: readonly LeadHashField[] = ["name", "email", "company"];

/** What a round reads to complete a lead read without its tail: the version, to tell whether it was committed since. */
const TAIL_FIELDS: readonly LeadHashField[] = ["version", "tail"];

/**
 * Events this process stored in an earlier try of the same batch (or earlier in this try, for another partition's
 * share of one insert): fresh still, though their insert now conflicts. Keyed by lead and event id (`storedKey`): a
 * copy of the id under another lead conflicts with the stored one and is a duplicate, never fresh.
 */
export type StoredMemo = Set<string>;

/** An event's key in a StoredMemo. */
const storedKey = (doc: Pick<EventDocument, "_id" | "lead_id">) => `${doc.lead_id}\n${doc._id}`;

export function createScorer(options: ScorerOptions) {
  const { db, redis, keys, cap, thresholds, log } = options;
  const now = options.now ?? Date.now;
  const maxRounds = options.maxRounds ?? 20;
  const commitChunk = options.commitChunk ?? 200;
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const deadLetters = db.collection<DeadLetterDocument>(COLLECTIONS.deadLetters);
  const idleArchive = idleArchiveOf(db);
  const pageId =
    (leadId: string): PageIds =>
    (entries, startTally) =>
      contentPageId(leadId, entries, startTally);

  /**
   * Keeps the events the store refused as dead letters (`_id` = `event_id`, so a replay adds none) with its reason;
   * they are not scored. Returns how many were new.
   */
  async function deadLetter(refused: { event: QueuedEvent; reason: string }[]): Promise<number> {
    if (refused.length === 0) return 0;
    const at = new Date(now());
    const existing = await insertNew(
      deadLetters,
      refused.map(({ event, reason }) => ({
        _id: event.event_id,
        lead_id: event.lead_id,
        event_type: event.event_type,
        reason,
        event: JSON.stringify(event),
        at,
      })),
    );
    log.warn("events refused by the store; kept as dead letters", {
      events: refused.map(({ event, reason }) => ({ event_id: event.event_id, reason })),
    });
    return refused.length - existing.size;
  }

  /**
   * The profiles of the batch's leads as their live hashes hold them now (one pipelined HMGET), for rules whose
   * conditions read `lead.*`.
   */
  async function readProfiles(leadIds: string[]): Promise<Map<string, LeadProfile>> {
    const pipeline = redis.pipeline();
    for (const id of leadIds) pipeline.hmget(keys.lead(id), ...leadHashFields(PROFILE_FIELDS));
    const replies = (await pipeline.exec()) ?? [];
    const profiles = new Map<string, LeadProfile>();
    replies.forEach(([error, values], index) => {
      if (error) throw error;
      const { name, email, company } = decodeLeadHash(PROFILE_FIELDS, values as (string | null)[]);
      profiles.set(leadIds[index] as string, { name: name || null, email: email || null, company: company || null });
    });
    return profiles;
  }

  /**
   * The batch with every merged lead id replaced by its root (identity.ts): one HMGET of the distinct ids. An event
   * whose root lies in another lead partition is sent on to that partition's queue as the root's event, before
   * anything of it is stored here (a batch run again sends it again: its `event_id` keeps it once there), so the
   * root's partition scores it as any of its own — no MongoDB read, whatever the partitions.
   */
  async function resolved(batch: readonly QueuedEvent[]): Promise<readonly QueuedEvent[]> {
    const roots = await resolveLeads(redis, keys, [...new Set(batch.map((event) => event.lead_id))]);
    if (roots.size === 0) return batch;
    const mapped = batch.map((event) => {
      const root = roots.get(event.lead_id);
      return root === undefined ? event : { ...event, lead_id: root };
    });
    const forward = options.forward;
    if (!forward || [...roots.values()].every((root) => forward.owns(root))) return mapped;
    await forward.send(mapped.filter((event) => !forward.owns(event.lead_id)));
    return mapped.filter((event) => forward.owns(event.lead_id));
  }

  async function storeEvents(
    queued: readonly QueuedEvent[],
    memo: StoredMemo,
    result: BatchResult,
    rules: RuleMatcher = options.rules(),
  ) {
    const prepared = await prepareEvents(queued, rules);
    return touchedBy(prepared, await insertReporting(events, prepared.docs), memo, result);
  }

  /**
   * The batch's documents to store, with what their lead's rules may award fixed (its Redis reads only), matched
   * under `rules` (the fence's version when the batch entered it).
   */
  async function prepareEvents(
    queued: readonly QueuedEvent[],
    rules: RuleMatcher = options.rules(),
  ): Promise<PreparedEvents> {
    const batch = await resolved(queued);
    const docs: EventDocument[] = [];
    const sources: QueuedEvent[] = [];
    // The events as the fold takes them, beside their documents (whose candidates are stored as text).
    const scorables: ScorableEvent[] = [];
    const seen = new Set<string>();
    const profiles = rules.usesLead ? await readProfiles([...new Set(batch.map((event) => event.lead_id))]) : null;
    for (const event of batch) {
      if (seen.has(event.event_id)) continue;
      seen.add(event.event_id);
      sources.push(event);
      // What the event may earn is fixed now, at first storage, and never changes afterwards (a replay's insert
      // conflicts, and the stored copy is the one folded).
      const candidates = rules.match(event, profiles?.get(event.lead_id));
      let points = 0;
      for (const candidate of candidates) points += candidate.points;
      const rule_id = candidates[0]?.rule_id ?? null;
      const stored = storedCandidates({ rule_id, points }, candidates);
      scorables.push({
        event_id: event.event_id,
        lead_id: event.lead_id,
        event_type: event.event_type,
        timestamp: event.timestamp,
        received_at: event.received_at,
        points,
        rule_id,
        candidates,
        rules_version: rules.version,
      });
      docs.push({
        _id: event.event_id,
        lead_id: event.lead_id,
        event_type: event.event_type,
        timestamp: new Date(event.timestamp),
        received_at: new Date(event.received_at),
        metadata: event.metadata,
        points,
        rule_id,
        sort_key: keyOf(event),
        ...(stored !== undefined && { candidates: stored }),
        rules_version: rules.version,
      });
    }
    return { queued: batch.length, docs, sources, scorables };
  }

  /** The leads the stored documents touch, each event fresh or a duplicate by the insert's outcome. */
  async function touchedBy(
    prepared: PreparedEvents,
    { existing, refused }: InsertOutcome,
    memo: StoredMemo,
    result: BatchResult,
  ): Promise<Touched[]> {
    const { docs, sources, scorables } = prepared;
    if (refused.size > 0) {
      const letters = [...refused].map(([index, reason]) => ({ event: sources[index] as QueuedEvent, reason }));
      result.deadLettered += await deadLetter(letters);
    }
    const touched = new Map<string, Touched>();
    docs.forEach((doc, index) => {
      if (refused.has(index)) return;
      let entry = touched.get(doc.lead_id);
      if (!entry) {
        entry = { leadId: doc.lead_id, fresh: [], duplicates: [] };
        touched.set(doc.lead_id, entry);
      }
      const fresh = !existing.has(index) || memo.has(storedKey(doc));
      (fresh ? entry.fresh : entry.duplicates).push(scorables[index] as ScorableEvent);
      if (fresh) memo.add(storedKey(doc));
    });
    const duplicates = [...touched.values()].reduce((sum, t) => sum + t.duplicates.length, 0);
    result.duplicates += prepared.queued - docs.length + duplicates;
    result.stored += docs.length - refused.size - duplicates;
    return [...touched.values()];
  }

  /** The leads' state without their tails (an append does not need it), and the fields as read. */
  async function readLeads(ids: string[]): Promise<Map<string, ReadLead>> {
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hmget(keys.lead(id), ...leadHashFields(PLAN_FIELDS), IDLE_MARK);
    const replies = (await pipeline.exec()) ?? [];
    const leads = new Map<string, ReadLead>();
    // Idle leads (idle.ts) get their history back before they are planned on, then are read again.
    const idle = new Map<string, string>();
    replies.forEach(([error, values], index) => {
      if (error) throw error;
      const id = ids[index] as string;
      const mark = (values as (string | null)[])[PLAN_FIELDS.length];
      if (mark) idle.set(id, mark);
      const hash = decodeLeadHash(PLAN_FIELDS, values as (string | null)[]);
      leads.set(id, { lead: decodeLead(id, hash, cap, thresholds), hash });
    });
    if (idle.size === 0) return leads;
    await restoreIdleLeads(redis, idleArchive, keys, idle);
    for (const [id, read] of await readLeads([...idle.keys()])) leads.set(id, read);
    return leads;
  }

  /** The tails of leads read without them, with their version: null for a lead committed since (plan it again). */
  async function readTails(read: ReadLead<LiveLead>[]): Promise<(LiveLead | null)[]> {
    const pipeline = redis.pipeline();
    for (const { lead } of read) pipeline.hmget(keys.lead(lead.id), ...leadHashFields(TAIL_FIELDS));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([error, reply], index) => {
      if (error) throw error;
      const { version, tail } = decodeLeadHash(TAIL_FIELDS, reply as (string | null)[]);
      const { lead, hash } = read[index] as ReadLead<LiveLead>;
      return version === String(lead.version) ? withTail(lead, hash, tail ?? null, cap, thresholds) : null;
    });
  }

  function commitOf(
    t: Touched,
    lead: LiveLead | null,
    plan: LeadPlan,
    at: number,
    messages: [string, Buffer][],
    halfLifeSeconds: number | null,
  ) {
    const base: Omit<LeadCommit, "mode" | "fields" | "rankKey" | "stage" | "appendTail"> = {
      leadId: t.leadId,
      expected: lead?.version ?? 0,
      updatedAt: at,
      pending: plan.kind === "divert" ? plan.pending.map(encodeEvent) : [],
      messages,
    };
    if (plan.kind !== "commit") {
      const state = {
        score: lead?.score ?? 0,
        reachedAt: lead?.reachedAt ?? null,
        lastEventAt: lead?.lastEventAt ?? null,
      };
      return {
        ...base,
        mode: plan.kind === "divert" ? plan.mode : "commit",
        fields: {},
        ...indexPlace(state, at, cap, thresholds, halfLifeSeconds),
      } satisfies LeadCommit;
    }
    const place = indexPlace(plan.next, at, cap, thresholds, halfLifeSeconds);
    const written = liveFields(plan.next, lead, at, thresholds);
    // With decay the stage stored is the one at the commit, as the index files it, not the one at the last event.
    if (written.fields.stage !== undefined) written.fields.stage = place.stage;
    return {
      ...base,
      mode: "commit",
      // While the deep lane owns the lead, the script hands these events to it instead of committing.
      pending: plan.folded.map(encodeEvent),
      ...written,
      movement: movementOf(lead ?? null, plan.next, plan.folded, thresholds, halfLifeSeconds),
      ...place,
    } satisfies LeadCommit;
  }

  /** The documents of the pages a plan settles, written at `at`. */
  function pageDocs(leadId: string, plan: LeadPlan, at: Date): HistoryPageDocument[] {
    if (plan.kind !== "commit") return [];
    return plan.next.newPages.map((page) => pageDocument(page.id, leadId, page.entries, at, page.startTally));
  }

  /** One round over the given leads; returns the leads to plan again (lost compare-and-sets). */
  async function round(pending: Touched[], result: BatchResult): Promise<Touched[]> {
    const states = await readLeads(pending.map((t) => t.leadId));
    const at = now();
    const halfLifeSeconds = options.halfLife?.() ?? null;
    const again: Touched[] = [];
    const planned = pending.map((t) => {
      const lead = states.get(t.leadId)?.lead ?? null;
      const { fresh, duplicates } = eventsToPlan(t, lead);
      return { t, lead, plan: planLead(lead, fresh, duplicates, cap, pageId(t.leadId), halfLifeSeconds) };
    });
    // Leads this round needs the tails of: read in one more pipeline, then planned with them.
    const needTail = planned.filter((p) => p.plan.kind === "needTail");
    if (needTail.length > 0) {
      // A lead needs its tail only if it has live state.
      const tails = await readTails(needTail.map((p) => states.get(p.t.leadId) as ReadLead<LiveLead>));
      needTail.forEach((p, index) => {
        const lead = tails[index] ?? null;
        if (lead === null) {
          again.push(p.t);
          p.plan = { kind: "noop" };
          return;
        }
        p.lead = lead;
        const { fresh, duplicates } = eventsToPlan(p.t, lead);
        p.plan = planLead(lead, fresh, duplicates, cap, pageId(p.t.leadId), halfLifeSeconds);
      });
    }
    const active = planned.filter((p) => p.plan.kind !== "noop" && p.plan.kind !== "needTail");
    // A commit's new pages are stored in MongoDB only once it landed: one that loses its compare-and-set, or whose
    // lead the deep lane owns, writes none. Until then each is held in Redis (page-garbage.ts), where readers find it.
    const docs = new Map(active.map((p) => [p.t.leadId, pageDocs(p.t.leadId, p.plan, new Date(at))]));
    await holdPages(redis, keys, [...docs.values()].flat());
    const updates = new Map<string, ScoreUpdate>();
    for (const p of active) {
      if (p.plan.kind !== "commit") continue;
      const { stage } = indexPlace(p.plan.next, at, cap, thresholds, halfLifeSeconds);
      const update = scoreUpdateOf(p.t.leadId, p.lead?.score ?? 0, p.plan.next, p.plan.folded, thresholds);
      updates.set(p.t.leadId, { ...update, stage });
    }
    const messages = options.encodeUpdates([...updates.values()]);
    await options.beforeCommit?.();
    for (let from = 0; from < active.length; from += commitChunk) {
      const chunk = active.slice(from, from + commitChunk);
      const outcomes: CommitOutcome[] = await commitLeads(
        redis,
        keys,
        options.generation(),
        chunk.map((p) => commitOf(p.t, p.lead, p.plan, at, messages.get(p.t.leadId) ?? [], halfLifeSeconds)),
      );
      const committedAt = now();
      await storeLandedPages(
        pages,
        redis,
        keys,
        chunk.flatMap((p, index) =>
          outcomes[index] === "committed" && p.plan.kind === "commit"
            ? [{ leadId: p.t.leadId, newPages: p.plan.next.newPages, docs: docs.get(p.t.leadId) ?? [] }]
            : [],
        ),
        options.pageCache,
      );
      // The pages of a commit that did not land are never stored: their copies go now.
      await dropPendingPages(
        redis,
        keys,
        chunk.flatMap((p, index) => (outcomes[index] === "committed" ? [] : (docs.get(p.t.leadId) ?? []))),
      );
      chunk.forEach((p, index) => {
        const outcome = outcomes[index];
        if (outcome === "conflict") {
          again.push(p.t);
          return;
        }
        if (outcome === "diverted") {
          if (p.plan.kind === "divert") result.diverted[p.plan.mode] += 1;
          return;
        }
        if (p.plan.kind !== "commit") return;
        const update = updates.get(p.t.leadId);
        if (update) result.updates.push(update);
        result.late += p.plan.late;
        for (const event of p.plan.folded) result.lagsMs.push(committedAt - event.received_at);
      });
    }
    return again;
  }

  async function scoreBatch(batch: readonly QueuedEvent[], memo: StoredMemo = new Set()): Promise<BatchResult> {
    const result = emptyResult();
    if (batch.length === 0) return result;
    const ticket = await options.fence?.enter();
    try {
      const entry = await options.journal?.open(batch);
      await settle(await storeEvents(batch, memo, result, ticket?.rules), result);
      if (entry !== undefined) await options.journal?.done(entry);
    } finally {
      await ticket?.leave();
    }
    return result;
  }

  async function settle(touched: Touched[], result: BatchResult): Promise<void> {
    let pending = touched;
    for (let rounds = 1; pending.length > 0; rounds += 1) {
      if (rounds > maxRounds) throw new Error(`lead commits still contended after ${maxRounds} rounds`);
      const lost = await round(pending, result);
      if (lost.length > 0) {
        result.retries += lost.length;
        log.debug("lead commits lost to another worker; planning them again", { leads: lost.length });
      }
      pending = lost;
    }
  }

  /**
   * Folds stored events (their stored copies) that the live state may or may not hold — a catch-up's (catch-up.ts):
   * one in its lead's tail is skipped, one newer than its lead's newest is folded, any other sends the lead to the
   * deep lane to rescan its stored events.
   */
  async function scoreStored(stored: readonly ScorableEvent[]): Promise<BatchResult> {
    const result = emptyResult();
    const byLead = new Map<string, Touched>();
    for (const event of stored) {
      let t = byLead.get(event.lead_id);
      if (!t) {
        t = { leadId: event.lead_id, fresh: [], duplicates: [], recovered: true };
        byLead.set(event.lead_id, t);
      }
      t.duplicates.push(event);
    }
    result.duplicates = stored.length;
    await settle([...byLead.values()], result);
    return result;
  }

  /**
   * Scores prepared events that the caller stored with others (partition-batch.ts: one insert for the partitions of
   * a batch), given this part's share of the insert's outcome; journaling is the caller's.
   */
  async function scoreInserted(
    prepared: PreparedEvents,
    inserted: InsertOutcome,
    memo: StoredMemo = new Set(),
  ): Promise<BatchResult> {
    const result = emptyResult();
    await settle(await touchedBy(prepared, inserted, memo, result), result);
    return result;
  }

  return { scoreBatch, scoreStored, prepareEvents, scoreInserted };
}

export type Scorer = ReturnType<typeof createScorer>;

/** A batch's events ready to store: their documents, the events they came from, and as the fold takes them. */
export interface PreparedEvents {
  /** Events queued, copies within the batch included. */
  queued: number;
  docs: EventDocument[];
  sources: QueuedEvent[];
  scorables: ScorableEvent[];
}

export function emptyResult(): BatchResult {
  return {
    updates: [],
    stored: 0,
    duplicates: 0,
    deadLettered: 0,
    late: 0,
    retries: 0,
    diverted: { pages: 0, rescan: 0 },
    lagsMs: [],
  };
}

/**
 * What a commit writes of a lead's new fold state (its profile and version are not among it): every field, or for
 * an append the changed ones and the entries the commit script appends to the stored tail.
 */
export function liveFields(
  next: NextState,
  lead: Pick<LiveLead, "createdAt" | "tally"> | null,
  at: number,
  thresholds: StageThresholds,
): Pick<LeadCommit, "fields" | "appendTail" | "appendPages"> {
  // A new lead's hash has no base or pages yet (nor a creation time, for a profile made before its first event):
  // it gets every field.
  if (next.appended && lead?.createdAt) {
    return { fields: appendedFields(next, next.appended, lead, at, thresholds), appendTail: next.appended.added };
  }
  // Pages spilled from the tail of a lead whose page list was not read: the script appends their refs to it.
  const appendPages =
    next.pages === null && next.newPages.length > 0
      ? encodePageRefs(next.newPages.map((page) => pageRef(page.id, page.entries, page.startTally)))
      : undefined;
  return { fields: allFields(next, lead, at, thresholds), appendPages };
}

/** The fold state of a round's result, field by field: spreading `next` would read its tail, which an append never decodes. */
export function foldOf(next: NextState, thresholds: StageThresholds) {
  return {
    score: next.score,
    stage: stageFor(next.score, thresholds),
    count: next.count,
    lastKey: next.lastKey,
    reachedAt: next.reachedAt,
    lastEventAt: next.lastEventAt,
  };
}

/** The tally field cleared when a stored tally became empty (an empty one is not stored). */
function clearedTally(next: NextState, lead: Pick<LiveLead, "tally"> | null): LeadHash {
  return lead?.tally !== undefined && next.tally === undefined ? { tally: "" } : {};
}

function allFields(
  next: NextState,
  lead: Pick<LiveLead, "createdAt" | "tally"> | null,
  at: number,
  thresholds: StageThresholds,
): LeadHash {
  const fields = stateFields({
    ...foldOf(next, thresholds),
    // A new lead was created when its earliest event was received, as a rebuild says too.
    createdAt: lead?.createdAt || Math.min(at, ...next.tail.map((entry) => entry.received_at)),
    updatedAt: at,
    tail: next.tail,
    base: next.base,
    tally: next.tally,
    breakdown: next.breakdown,
    pages: next.pages,
  });
  return { ...fields, ...clearedTally(next, lead) };
}

/** An append's fields: the fold state and the newest entry; the base and pages stay as stored, the tail grows. */
function appendedFields(
  next: NextState,
  appended: NonNullable<NextState["appended"]>,
  lead: Pick<LiveLead, "createdAt" | "tally">,
  at: number,
  thresholds: StageThresholds,
): LeadHash {
  return {
    ...tallyFields(next, lead.tally),
    ...clearedTally(next, lead),
    ...foldFields({
      ...foldOf(next, thresholds),
      createdAt: lead.createdAt,
      updatedAt: at,
    }),
    newest: appended.newest,
    tailReceivedMax: String(appended.tailReceivedMax),
  };
}
