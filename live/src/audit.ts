// Checks the live state against MongoDB, the ground truth: every lead's score, count and whole history must be the
// pure fold of its stored events, and the indexes must agree with the leads. Reads everything — one pass over each
// collection and pipelined Redis reads — for tests, the fault suite, load runs and operators
// (`npm run rebuild -- --check`), never for a hot path.
import {
  applyRescored,
  COLLECTIONS,
  decayedScore,
  decayKey,
  type EventDocument,
  type HistoryPageDocument,
  type IdentityDocument,
  type RescoredCandidatesDocument,
  resolveRoots,
  STAGES,
  type StageThresholds,
  stageAt,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import { findByIds, leadPartition, partitionPrefixes } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db, Filter } from "mongodb";
import {
  decodeLead,
  decodeLeadHash,
  LEAD_FIELDS,
  type LiveEntry,
  type LiveLead,
  leadHashFields,
  rankKey,
} from "./codec.ts";
import { decayRankKey } from "./decay-index.ts";
import { addToBreakdown, emptyBreakdown, encodeBreakdown, encodeTally, foldLive } from "./fold.ts";
import { wholeHistory } from "./history.ts";
import { IDLE_MARK, idleArchiveOf, withIdleFields } from "./idle.ts";
import { type LiveKeys, liveKeys } from "./keys.ts";

export interface AuditOptions {
  db: Db;
  redis: Redis;
  redisPrefix: string;
  /** LEAD_PARTITIONS (default 1). */
  partitions?: number;
  cap: number;
  thresholds: StageThresholds;
  /** The half-life in force (seconds; see `readScoringSettings`), or null/absent without decay. */
  halfLifeSeconds?: number | null;
}

export interface AuditReport {
  leads: number;
  events: number;
  /** History pages stored, named by the live state, and retired (awaiting deletion). */
  pages?: PageCounts;
  /** What differs between the live state and the fold of the stored events. */
  problems: string[];
  /**
   * The garbage check: more history pages stored than MAX_PAGE_RATIO times those named. Apart from `problems`: right
   * after a refold or a rebuild the pages it superseded are stored until their grace and the next sweep have passed,
   * while every score is already exact.
   */
  pageProblems: string[];
}

/** History pages stored against those the live state names (see worker/src/page-garbage.ts). */
export interface PageCounts {
  stored: number;
  referenced: number;
  /** Retired by a refold, a lost commit or a rebuild, deleted once their grace has passed. */
  retired: number;
}

/**
 * The most pages stored per page the live state names. Retired pages count: they are stored until the sweep deletes
 * them (worker/src/page-garbage.ts), so a sweep that falls behind shows here.
 */
export const MAX_PAGE_RATIO = 1.1;

/** A problem when more pages are stored than MAX_PAGE_RATIO times those the live state names. */
export function pageProblems(pages: PageCounts): string[] {
  if (pages.stored <= MAX_PAGE_RATIO * pages.referenced) return [];
  return [
    `history_pages holds ${pages.stored} pages (${pages.retired} retired, awaiting deletion), the live state names ` +
      `${pages.referenced}: more than ${MAX_PAGE_RATIO}×`,
  ];
}

/** The comparable part of a history entry. */
export function entryView(entry: Pick<LiveEntry, "event_id" | "points" | "delta" | "score" | "seq" | "rule_id">) {
  return {
    event_id: entry.event_id,
    points: entry.points,
    delta: entry.delta,
    score: entry.score,
    seq: entry.seq,
    rule_id: entry.rule_id,
  };
}

export function loadPagesFrom(db: Db) {
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  return (ids: string[]) => findByIds(pages, ids);
}

/** Every lead's live state compared with the fold of its stored events (see `leadProblems`). */
export async function auditLiveState(options: AuditOptions): Promise<AuditReport> {
  const snapshot = await readLiveState(options);
  const problems = snapshotProblems(snapshot, options.cap, options.thresholds, options.halfLifeSeconds ?? null);
  return {
    leads: snapshot.events.size,
    events: snapshot.storedEvents,
    pages: snapshot.pages,
    problems,
    pageProblems: snapshot.pages ? pageProblems(snapshot.pages) : [],
  };
}

export interface LiveStateOptions {
  db: Db;
  redis: Redis;
  redisPrefix: string;
  cap: number;
  thresholds: StageThresholds;
  /** Which leads to read (default: all). */
  leadIds?: { gte: string; lt: string };
  /** LEAD_PARTITIONS: each lead is read from its partition's keys. */
  partitions?: number;
}

export interface LiveLeadView {
  lead: LiveLead;
  /** Pages, then tail, oldest first; null when a page the live state names is missing (see `problems`). */
  history: LiveEntry[] | null;
  /** The lead's value in the leaderboard index, or null when it is not there. */
  indexed: number | null;
}

export interface LiveStateSnapshot {
  /** Leads with live state, by id. */
  leads: Map<string, LiveLeadView>;
  /** Stored events (no metadata), by lead. */
  events: Map<string, EventDocument[]>;
  /** The candidates retroactive publishes re-matched, by lead (contracts/src/rescore.ts). */
  rescored?: Map<string, RescoredCandidatesDocument[]>;
  storedEvents: number;
  /** Pages stored, named and retired: counted when every lead was read (no `leadIds`). */
  pages?: PageCounts;
  /** What could not be read (a missing page). */
  problems: string[];
  /**
   * The instants a decayed lead's stored stage may have been taken at: from the decay ticker's `through` (read before
   * the leads; null when it never ran) to the moment after the leads were read.
   */
  stagesBetween: {
    through: number | null;
    read: number;
    /** With lead partitions: each partition's `through` (its own decay ticker's), by partition. */
    throughs?: (number | null)[];
  };
}

/** How many history entries of a snapshot hold each event id (once, when all is well), and the entries in all. */
export function historyEntryCounts(snapshot: LiveStateSnapshot): { byEventId: Map<string, number>; total: number } {
  const byEventId = new Map<string, number>();
  let total = 0;
  for (const { history } of snapshot.leads.values()) {
    for (const entry of history ?? []) {
      byEventId.set(entry.event_id, (byEventId.get(entry.event_id) ?? 0) + 1);
      total += 1;
    }
  }
  return { byEventId, total };
}

/** What could not be read, and every lead's problems: those with live state and those with stored events. */
export function snapshotProblems(
  snapshot: LiveStateSnapshot,
  cap: number,
  thresholds: StageThresholds,
  halfLifeSeconds: number | null = null,
): string[] {
  const problems = [...snapshot.problems];
  const decay = halfLifeSeconds === null ? null : { halfLifeSeconds, ...snapshot.stagesBetween };
  for (const id of new Set([...snapshot.leads.keys(), ...snapshot.events.keys()])) {
    const stored = snapshot.events.get(id) ?? [];
    const rescored = snapshot.rescored?.get(id) ?? [];
    const throughs = snapshot.stagesBetween.throughs;
    const own = decay && throughs ? { ...decay, through: throughs[leadPartition(id, throughs.length)] ?? null } : decay;
    problems.push(...leadProblems(id, snapshot.leads.get(id), stored, cap, thresholds, own, rescored));
  }
  return problems;
}

const CHUNK = 500;

export async function readLiveState(options: LiveStateOptions): Promise<LiveStateSnapshot> {
  const { db, redis, cap, thresholds } = options;
  const layouts = partitionPrefixes(options.redisPrefix, options.partitions ?? 1).map((prefix) => liveKeys(prefix));
  const keysOf = (id: string) => layouts[leadPartition(id, layouts.length)] as LiveKeys;
  const idleArchive = idleArchiveOf(db);
  const range = options.leadIds;
  const inRange = (id: string) => !range || (id >= range.gte && id < range.lt);

  const events = new Map<string, EventDocument[]>();
  let storedEvents = 0;
  // Events stored under an id before it was merged are its root's (MongoDB's identities, resolved).
  const identities = await db.collection<IdentityDocument>(COLLECTIONS.identities).find({}).sort({ at: 1 }).toArray();
  const roots = resolveRoots(identities.map((doc) => ({ from: doc._id, into: doc.into })));
  const eventFilter: Filter<EventDocument> = range ? { lead_id: { $gte: range.gte, $lt: range.lt } } : {};
  for await (const doc of db
    .collection<EventDocument>(COLLECTIONS.events)
    .find(eventFilter, { projection: { metadata: 0 }, batchSize: 10_000 })) {
    const root = roots.get(doc.lead_id) ?? doc.lead_id;
    const list = events.get(root) ?? [];
    list.push(root === doc.lead_id ? doc : { ...doc, lead_id: root });
    events.set(root, list);
    storedEvents += 1;
  }

  // What retroactive publishes re-matched: one document per (version, lead), read whole like the events.
  const rescored = new Map<string, RescoredCandidatesDocument[]>();
  for await (const doc of db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates).find({})) {
    const root = roots.get(doc.lead_id) ?? doc.lead_id;
    if (!inRange(root)) continue;
    const list = rescored.get(root) ?? [];
    list.push(doc);
    rescored.set(root, list);
  }

  // Every page of these leads in one read, so a lead's history costs no query of its own.
  const pages = new Map<string, HistoryPageDocument>();
  const pageFilter: Filter<HistoryPageDocument> = range ? { lead_id: { $gte: range.gte, $lt: range.lt } } : {};
  for await (const page of db
    .collection<HistoryPageDocument>(COLLECTIONS.historyPages)
    .find(pageFilter, { batchSize: 1_000 })) {
    pages.set(page._id, page);
  }
  type Loader = Parameters<typeof wholeHistory>[1];
  const loadPages = (async (ids: string[]) =>
    ids.flatMap((id) => {
      const page = pages.get(id);
      return page ? [page] : [];
    })) as unknown as Loader;

  // Each partition's decay ticker keeps its own `through`.
  const throughs = await Promise.all(
    layouts.map(async (keys) => {
      const through = await redis.get(keys.decayThrough);
      return through === null ? null : Number(through);
    }),
  );
  let ranked: string[] = [];
  for (const keys of layouts) ranked = ranked.concat(await redis.zrange(keys.byScore, "0", "-1", "WITHSCORES"));
  const indexed = new Map<string, number>();
  for (let i = 0; i + 1 < ranked.length; i += 2) {
    const id = ranked[i] as string;
    if (inRange(id)) indexed.set(id, Number(ranked[i + 1]));
  }
  // Grouped by partition, so a pipeline's keys share a slot on a Redis Cluster.
  const ids = [...new Set([...indexed.keys(), ...events.keys()])].sort(
    (a, b) => leadPartition(a, layouts.length) - leadPartition(b, layouts.length),
  );
  const leads = new Map<string, LiveLeadView>();
  const problems: string[] = [];
  for (let from = 0; from < ids.length; from += CHUNK) {
    const first = leadPartition(ids[from] as string, layouts.length);
    const chunk = ids.slice(from, from + CHUNK).filter((id) => leadPartition(id, layouts.length) === first);
    from -= CHUNK - chunk.length;
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.hmget(keysOf(id).lead(id), ...leadHashFields(LEAD_FIELDS), IDLE_MARK);
    const replies = (await pipeline.exec()) ?? [];
    for (const [index, id] of chunk.entries()) {
      const [error, read] = replies[index] ?? [null, null];
      if (error) throw error;
      // An idle lead is checked with what it shed, as a read sees it.
      const values = await withIdleFields(id, LEAD_FIELDS, read as (string | null)[], idleArchive);
      const lead = decodeLead(id, decodeLeadHash(LEAD_FIELDS, values), cap, thresholds);
      if (!lead) continue;
      let history: LiveEntry[] | null = null;
      try {
        history = await wholeHistory(lead, loadPages, cap);
      } catch (error) {
        problems.push(`${id}: ${(error as Error).message}`);
      }
      leads.set(id, { lead, history, indexed: indexed.get(id) ?? null });
    }
  }
  // A page id is `<lead id>|<digest>` (worker/src/page-id.ts): the retired pages of the leads read are those of
  // their ids.
  let retiredPages: string[] = [];
  for (const keys of layouts) retiredPages = retiredPages.concat(await redis.zrange(keys.retiredPages, "0", "-1"));
  const retired = retiredPages.filter((id) => inRange(id.slice(0, id.lastIndexOf("|"))));
  const counts = {
    stored: pages.size,
    referenced: new Set([...leads.values()].flatMap(({ lead }) => lead.pages.map((ref) => ref.id))).size,
    retired: retired.length,
  };
  // Over several partitions, `through` is the earliest of theirs (none when one never ran), `throughs` each one's.
  const through = throughs.includes(null) ? null : Math.min(...(throughs as number[]));
  const stagesBetween = { through, read: Date.now(), ...(throughs.length > 1 && { throughs }) };
  return { leads, events, rescored, storedEvents, pages: counts, problems, stagesBetween };
}

/** The comparable part of a history entry: its v1 fields and what each of its rules asked and gave. */
const view = (entry: Omit<LiveEntry, "late">) =>
  `${entry.event_id} ${entry.points}/${entry.delta}/${entry.score} #${entry.seq} ${entry.rule_id} @${entry.score_reached_at} ` +
  entry.rules.map((rule) => `${rule.rule_id}:${rule.group}:${rule.asked}/${rule.given}`).join(",");

/** With decay, what a lead's stored stage is checked against: see `LiveStateSnapshot.stagesBetween`. */
export interface DecayAudit {
  halfLifeSeconds: number;
  through: number | null;
  read: number;
}

/**
 * A decayed lead's stored stage must be the one its score had at some instant from the last event or the ticker's
 * `through` (whichever is later: a crossing up to `through` is committed) to the read: higher is a crossing missed,
 * lower a stage the score has not reached yet.
 */
function decayedStageProblems(
  id: string,
  stage: string,
  fold: { score: number; at?: number | null },
  thresholds: StageThresholds,
  decay: DecayAudit,
): string[] {
  const at = fold.at ?? null;
  if (at === null) return stage === stageFor(0, thresholds) ? [] : [`${id}: stage ${stage} without an event`];
  const key = decayKey(fold.score, at, decay.halfLifeSeconds);
  const since = Math.max(at, decay.through ?? at);
  const highest = stageAt(key, since, decay.halfLifeSeconds, thresholds);
  const lowest = stageAt(key, Math.max(at, decay.read), decay.halfLifeSeconds, thresholds);
  const index = STAGES.indexOf(stage as (typeof STAGES)[number]);
  if (index > STAGES.indexOf(highest)) return [`${id}: stage ${stage}, but it had decayed to ${highest} by ${since}`];
  if (index < STAGES.indexOf(lowest)) return [`${id}: stage ${stage}, below ${lowest}, its stage when read`];
  return [];
}

/** Entries' scores differ from the fold's arithmetic by rounding at most. */
const DECAY_TOLERANCE = 1e-9;

/**
 * What differs between a lead's live state and the pure fold of its stored events: score, count, stage, when it
 * reached its score, its place in the leaderboard index, and every history entry (event, points, delta, score, seq,
 * when the score was reached, what each matched rule asked and gave under its limits and groups, whether it arrived
 * late), the fold's tally
 * (limit counters, group totals) and the breakdown (points and events per rule and group);
 * plus the history's own invariants (deltas sum to the score — with decay, each entry's score is the one before
 * decayed to its time plus its delta —, scores within [0, cap], seq 1…n). With `decay` the fold decays with its
 * half-life, the index holds `decayRankKey`s and the stage is checked as `decayedStageProblems` says.
 */
export function leadProblems(
  id: string,
  live: LiveLeadView | undefined,
  stored: readonly EventDocument[],
  cap: number,
  thresholds: StageThresholds,
  decay: DecayAudit | null = null,
  rescored: readonly RescoredCandidatesDocument[] = [],
): string[] {
  const halfLife = decay?.halfLifeSeconds ?? null;
  const events = applyRescored(stored.map(toScorable), rescored);
  const folded = foldLive(events, cap, { score: 0, count: 0, reachedAt: null }, halfLife);
  const fold = { ...folded.state, history: folded.history };
  if (!live) return stored.length > 0 ? [`${id}: ${stored.length} stored events, no live state`] : [];
  const { lead, history } = live;
  const problems: string[] = [];
  if (lead.score !== fold.score) problems.push(`${id}: score ${lead.score}, fold of its stored events ${fold.score}`);
  if (lead.count !== fold.count) problems.push(`${id}: count ${lead.count}, ${fold.count} stored events`);
  if (decay !== null) problems.push(...decayedStageProblems(id, lead.stage, fold, thresholds, decay));
  else if (lead.stage !== stageFor(fold.score, thresholds))
    problems.push(`${id}: stage ${lead.stage} for ${fold.score}`);
  if (lead.reachedAt !== fold.reachedAt) {
    problems.push(`${id}: reached its score at ${lead.reachedAt}, fold says ${fold.reachedAt}`);
  }
  const tally = encodeTally(lead.tally);
  if (tally !== encodeTally(fold.tally)) problems.push(`${id}: tally ${tally}, fold says ${encodeTally(fold.tally)}`);
  const breakdown = encodeBreakdown(lead.breakdown);
  const wantBreakdown = encodeBreakdown(addToBreakdown(emptyBreakdown(), fold.history, 1));
  if (breakdown !== wantBreakdown) problems.push(`${id}: breakdown ${breakdown}, fold says ${wantBreakdown}`);
  const wantRank =
    halfLife === null ? rankKey(fold.score, fold.reachedAt, cap) : decayRankKey(fold.score, fold.at ?? null, halfLife);
  if (live.indexed !== wantRank) problems.push(`${id}: leaderboard index ${live.indexed}, want ${wantRank}`);
  if (!history) return problems;
  let sum = 0;
  history.forEach((entry, index) => {
    sum += entry.delta;
    if (entry.score < 0 || entry.score > cap) problems.push(`${id}: ${entry.event_id} has score ${entry.score}`);
    if (entry.seq !== index + 1)
      problems.push(`${id}: ${entry.event_id} is entry ${index + 1} but has seq ${entry.seq}`);
    const previous = history[index - 1];
    if (halfLife !== null && previous !== undefined) {
      const from = decayedScore(previous.score, previous.timestamp, entry.timestamp, halfLife);
      if (Math.abs(from + entry.delta - entry.score) > DECAY_TOLERANCE * Math.max(1, entry.score)) {
        problems.push(`${id}: ${entry.event_id} has score ${entry.score}, ${from} decayed plus delta ${entry.delta}`);
      }
    }
  });
  if (halfLife === null && history.length > 0 && sum !== lead.score) {
    problems.push(`${id}: deltas sum to ${sum}, score ${lead.score}`);
  }
  if (halfLife !== null && history.length > 0 && (history.at(-1) as LiveEntry).score !== lead.score) {
    problems.push(`${id}: last entry's score ${(history.at(-1) as LiveEntry).score}, score ${lead.score}`);
  }
  if (history.length !== fold.history.length) {
    problems.push(
      `${id}: ${stored.length} stored events fold to ${fold.history.length} entries, history has ${history.length}`,
    );
    return problems;
  }
  for (const [i, want] of fold.history.entries()) {
    const got = history[i] as LiveEntry;
    const wanted = view(want);
    if (view(got) !== wanted) {
      problems.push(`${id} entry ${i}: fold gives ${wanted}, history has ${view(got)}`);
      break;
    }
  }
  // An entry arrived late when it was received after one that follows it, wherever each is stored.
  let earliest = Number.POSITIVE_INFINITY;
  for (let i = history.length - 1; i >= 0; i -= 1) {
    const entry = history[i] as LiveEntry;
    if (entry.late !== entry.received_at > earliest) {
      problems.push(
        `${id}: ${entry.event_id} is ${entry.late ? "" : "not "}marked late, received ${entry.received_at}`,
      );
      break;
    }
    earliest = Math.min(earliest, entry.received_at);
  }
  return problems;
}
