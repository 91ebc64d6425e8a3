// Every lead's scored history as the live state holds it — its tail from Redis, its settled pages from MongoDB by
// `_id` — lead by lead, in chunks: what a preview folds when its draft reads no metadata.
//
// Why not the `events` collection: on the embedded store a read of it costs about a millisecond a document on a busy
// box (measured: 20,000 events in 16–23 s, whatever the batch size or projection), so 1M events would take a quarter
// of an hour before any fold. The live state holds the same events with what each may earn, one lead a hash: a
// pipelined HMGET of 500 leads costs a few milliseconds, and a lead with fewer than 100 events has no page at all.
// What it lacks is each event's metadata, so a draft whose rules read `metadata.*` still streams the collection.
//
// Leads come from one ZSCAN of the leaderboard (every lead with live state is in it), each id once. A lead is read
// in one HMGET, so its tail, page list and profile agree; a page is immutable and outlives its retirement by
// `RETIRED_GRACE_MS`, longer than a chunk takes. Events still waiting in the deep lane are not in the live state
// yet: the stream is the scored state, as the leaderboard shows it.
import type { LeadProfile, StageThresholds } from "@leadscore/contracts";
import { COLLECTIONS, type HistoryPageDocument } from "@leadscore/contracts";
import {
  decodeLead,
  decodeLeadHash,
  entryEvent,
  IDLE_MARK,
  type IdleArchive,
  idleArchiveOf,
  LEAD_FIELDS,
  type LiveKeys,
  type LiveLead,
  leadHashField,
  leadHashFields,
  restoreIdleLeads,
  wholeHistory,
  withIdleFields,
} from "@leadscore/live";
import { createLookupGate, findByIds, type LookupGate } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import type { LeadEvents } from "./lead-event-stream.ts";

/** A lead's scored events (the tail and pages as stored: each event's candidates as fixed then) and its profile. */
export interface LiveLeadEvents extends LeadEvents {
  profile: LeadProfile;
  /** The lead's live state as read with its events (its version: what a commit of it compares). */
  lead: LiveLead;
}

export interface LiveLeadStreamOptions {
  cap: number;
  thresholds: StageThresholds;
  /** Leads read in one pipeline (default 500). */
  chunk?: number;
  signal?: AbortSignal;
  /** Called once every lead id is known: how many leads hold events, and how many events they hold. */
  onTotal?: (totals: { leads: number; events: number }) => void;
}

const DEFAULT_CHUNK = 500;
const SCAN_COUNT = 1_000;

/** Every lead id in the leaderboard, once (ZSCAN may repeat one). */
async function leadIds(redis: Redis, keys: LiveKeys, signal?: AbortSignal): Promise<string[]> {
  const ids = new Set<string>();
  let cursor = "0";
  do {
    signal?.throwIfAborted();
    const [next, reply] = await redis.zscan(keys.byScore, cursor, "COUNT", SCAN_COUNT);
    cursor = next;
    for (let i = 0; i < reply.length; i += 2) ids.add(reply[i] as string);
  } while (cursor !== "0");
  return [...ids];
}

/** The events each lead has folded (its hash's count), one pipeline per chunk. */
async function eventCounts(redis: Redis, keys: LiveKeys, ids: readonly string[], chunk: number): Promise<number[]> {
  const counts: number[] = [];
  const field = leadHashField("count");
  for (let from = 0; from < ids.length; from += chunk) {
    const pipeline = redis.pipeline();
    for (const id of ids.slice(from, from + chunk)) pipeline.hget(keys.lead(id), field);
    for (const [error, value] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      counts.push(Number(value ?? 0));
    }
  }
  return counts;
}

/** The leads that have folded events, and how many events they hold in all. */
export async function leadsWithEvents(redis: Redis, keys: LiveKeys, signal: AbortSignal | undefined, chunk: number) {
  const all = await leadIds(redis, keys, signal);
  const counts = await eventCounts(redis, keys, all, chunk);
  return { ids: all.filter((_, i) => (counts[i] as number) > 0), events: counts.reduce((sum, n) => sum + n, 0) };
}

/** How many leads have folded events and how many events the live state holds: a count without reading MongoDB. */
export async function liveTotals(
  redis: Redis,
  keys: LiveKeys,
  signal?: AbortSignal,
): Promise<{ leads: number; events: number }> {
  const { ids, events } = await leadsWithEvents(redis, keys, signal, DEFAULT_CHUNK);
  return { leads: ids.length, events };
}

/** Pages by `_id`, one equality read each: the one read the embedded store answers without a scan. */
function pageLoader(db: Db, gate: LookupGate) {
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  return (ids: string[]) => findByIds(pages, ids, { projection: { entries: 1 }, gate });
}

/** Each lead's HMGET of LEAD_FIELDS and its idle mark (null: not idle). */
async function readHashes(redis: Redis, keys: LiveKeys, ids: readonly string[]) {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.lead(id), ...leadHashFields(LEAD_FIELDS), IDLE_MARK);
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, values]) => {
    if (error) throw error;
    const read = values as (string | null)[];
    return { read, mark: read[LEAD_FIELDS.length] ?? null };
  });
}

/**
 * The leads of `ids` that have folded events, each read in one HMGET with its pages by `_id`. An idle lead
 * (live/src/idle.ts) reads what it shed from its archive; with `restoreIdle` (for a caller that will commit the lead)
 * it is first given those fields back, as the scorer does before it folds one. Every MongoDB read of the call (the
 * archives and the pages of all its leads) goes through one gate, BY_ID_IN_FLIGHT at once: a chunk is hundreds of
 * leads, each with its pages.
 */
export async function readLiveLeads(
  redis: Redis,
  db: Db,
  keys: LiveKeys,
  ids: readonly string[],
  options: Pick<LiveLeadStreamOptions, "cap" | "thresholds"> & { restoreIdle?: boolean },
): Promise<LiveLeadEvents[]> {
  const gate = createLookupGate();
  const stored = idleArchiveOf(db);
  const archive: IdleArchive = (leadId, mark) => gate(() => stored(leadId, mark));
  let hashes = await readHashes(redis, keys, ids);
  const idle = new Map(hashes.flatMap(({ mark }, i) => (mark ? [[ids[i] as string, mark] as const] : [])));
  if (options.restoreIdle && idle.size > 0) {
    await restoreIdleLeads(redis, archive, keys, idle);
    hashes = await readHashes(redis, keys, ids);
  }
  const values = await Promise.all(
    hashes.map(({ read }, i) => withIdleFields(ids[i] as string, LEAD_FIELDS, read, archive)),
  );
  const leads = values.flatMap((read, i) => {
    const hash = decodeLeadHash(LEAD_FIELDS, read);
    const lead = decodeLead(ids[i] as string, hash, options.cap, options.thresholds);
    return lead === null || lead.count === 0 ? [] : [lead];
  });
  const loadPages = pageLoader(db, gate);
  const histories = await Promise.all(leads.map((lead) => wholeHistory(lead, loadPages, options.cap)));
  return leads.map((lead, i) => ({
    leadId: lead.id,
    events: (histories[i] ?? []).map(entryEvent),
    profile: { name: lead.name, email: lead.email, company: lead.company },
    lead,
  }));
}

/**
 * Every lead that has folded events, once, with its events in `(timestamp, event_id)` order (distinct by id), as the
 * live state scored them. Leads come in no order a caller should rely on.
 */
export async function* streamLiveLeads(
  redis: Redis,
  db: Db,
  keys: LiveKeys,
  options: LiveLeadStreamOptions,
): AsyncGenerator<LiveLeadEvents> {
  yield* streamPartitionLeads(redis, db, [keys], options);
}

/**
 * `streamLiveLeads` over every lead partition (`partitions`: each one's keys): every partition's leads are listed
 * first, so `onTotal` is called once with their sum, then each partition's leads are read from its own live state in
 * turn, a chunk at a time. Only the lead ids are held for all partitions, never their events.
 */
export async function* streamPartitionLeads(
  redis: Redis,
  db: Db,
  partitions: readonly LiveKeys[],
  options: LiveLeadStreamOptions,
): AsyncGenerator<LiveLeadEvents> {
  const chunk = options.chunk ?? DEFAULT_CHUNK;
  const listed = await Promise.all(partitions.map((keys) => leadsWithEvents(redis, keys, options.signal, chunk)));
  options.onTotal?.({
    leads: listed.reduce((sum, part) => sum + part.ids.length, 0),
    events: listed.reduce((sum, part) => sum + part.events, 0),
  });
  for (const [i, keys] of partitions.entries()) {
    yield* streamListed(redis, db, keys, (listed[i] as { ids: string[] }).ids, chunk, options);
  }
}

/** The leads of `ids` in one partition, read a chunk at a time, the next chunk while the caller folds this one. */
async function* streamListed(
  redis: Redis,
  db: Db,
  keys: LiveKeys,
  ids: readonly string[],
  chunk: number,
  options: LiveLeadStreamOptions,
): AsyncGenerator<LiveLeadEvents> {
  const read = (from: number) => {
    options.signal?.throwIfAborted();
    return readLiveLeads(redis, db, keys, ids.slice(from, from + chunk), options);
  };
  let next = ids.length > 0 ? read(0) : undefined;
  try {
    for (let from = 0; next !== undefined; from += chunk) {
      const leads = await next;
      next = from + chunk < ids.length ? read(from + chunk) : undefined;
      for (const lead of leads) {
        options.signal?.throwIfAborted();
        yield lead;
      }
    }
  } finally {
    // Left early: the read ahead is not wanted, nor its failure.
    next?.catch(() => undefined);
  }
}
