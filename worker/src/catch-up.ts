// After a Redis restart that kept the live state (its generation, in this version's layout, came back from the
// append-only file), the worker catches up what the restart lost instead of rebuilding: the events of the journal's
// unfinished batches (journal.ts) — the only stored events whose commits the file may not hold — are looked for in
// their leads' tails (found: the commit was kept, nothing to do); the others are read by `_id` (their stored copies)
// and folded like a batch run again: one newer than its lead's newest is folded, any other sends the lead to the
// deep lane to rescan it. Then the generation is named on
// the run of Redis the catch-up's commits ran on (`renewGeneration`, given the result's `run`), and reads and `/readyz`
// take it as current. Its done marks and that renewal are written only on that run (journal.ts): were Redis killed
// during the catch-up and back without its last commits, a mark or a renewal the connection resent to it would vouch
// for commits it lost; refused, they leave the generation on an earlier run, and the catch-up runs again.
//
// A clean restart (SHUTDOWN wrote everything) finds only the batches in flight when Redis stopped, whose commits
// came back or are redone; a restart that lost its last second (`appendfsync everysec`, SIGKILL) finds that second's.
// Cost: one scan of the journal's entries (a few minutes of batches, their ids left out), one HGET per lead of the
// unfinished batches, one `_id` read per event not in its lead's tail, and their fold — what was lost, not what is
// stored.
import { setMaxListeners } from "node:events";
import { COLLECTIONS, type EventDocument, type ScorableEvent, toScorable } from "@leadscore/contracts";
import { type LiveKeys, leadHashField, redisRunId, tailEventIds } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { markEntriesDone, unfinishedEntries } from "./journal.ts";
import type { HeldLock } from "./rebuild.ts";
import type { BatchResult } from "./scorer.ts";

export interface CatchUpOptions {
  db: Db;
  redis: Redis;
  keys: LiveKeys;
  /** Folds stored events the live state may or may not hold, committing into the generation caught up. */
  scoreStored(events: readonly ScorableEvent[]): Promise<BatchResult>;
  /** Checks the lock the catch-up runs under before it writes; its signal stops the reads. */
  lock?: HeldLock;
  /** Whether a lead is in this live state (its lead partition's); unset: every lead. */
  owns?: (leadId: string) => boolean;
  /**
   * Whether an event belongs to a batch this process has in hand: that batch's next try commits it (or, failing, its
   * job's), so it is neither read nor looked for. A clean stop leaves only such batches.
   */
  inHand?: (eventId: string) => boolean;
}

export interface CatchUpResult {
  /** The run of Redis learned before the catch-up's first commit: the one its marks, and its renewal, must run on. */
  run: string;
  /** Whether its done marks were written (false: Redis restarted during the catch-up, which is to run again). */
  marked: boolean;
  /** Journal entries without a done mark. */
  batches: number;
  /** Their events in a batch this process has in hand: left to it. */
  inHand: number;
  /** The others found in their leads' tails in Redis: committed, so not read. */
  inTails: number;
  /** The others found stored (an entry's events may not have been stored: its batch died before). */
  events: number;
  /** Of those, folded now (the rest were held by the live state already, or went to the deep lane). */
  folded: number;
  /** Leads sent to the deep lane to rescan. */
  rescans: number;
  ms: number;
  /** Where the time went: the journal's scan, the stored events' reads, their fold and commits. */
  scanMs: number;
  readMs: number;
  foldMs: number;
  /** The reads by `_id`: how many, and the slowest and the median of them (ms). */
  reads: number;
  readMaxMs: number;
  readMedianMs: number;
}

/**
 * Reads that run at once: each is one `_id` equality. FerretDB 1.24's SQLite backend pushes it down as
 * `_ferretdb_sjson->'$._id' = ?`, which its `_id_` index (on `_ferretdb_sjson->"_id"`) does not serve: each read scans
 * the collection's rows in SQL until it finds its own, and a lost event, among the newest, is near the end.
 */
const READS_IN_FLIGHT = 16;
/** Events looked for in their leads' tails, then read, at a time. */
const READ_CHUNK = 64;
/** Events folded per scorer call. */
const FOLD_CHUNK = 5_000;

export async function catchUp(options: CatchUpOptions): Promise<CatchUpResult> {
  const started = performance.now();
  const run = await redisRunId(options.redis);
  const entries = await unfinishedEntries({ db: options.db, redis: options.redis, keys: options.keys.journal });
  const scanned = performance.now();
  const leadOf = new Map<string, string>();
  for (const entry of entries) {
    for (const [index, lead] of (entry.leads ?? []).entries()) leadOf.set(entry.events[index] as string, lead);
  }
  const all = [...new Set(entries.flatMap((entry) => entry.events))];
  const ids = all.filter((id) => !options.inHand?.(id));
  // Another partition's batches are unfinished here (each partition marks its own): their events are read (so their
  // entries are held) but neither looked for in this partition's tails nor folded.
  const owns = options.owns;
  const ours = (leadId: string | undefined) => !owns || leadId === undefined || owns(leadId);
  // The tails are looked at again before each chunk of reads: a batch that was in flight when Redis stopped runs
  // again meanwhile (its own tries) and commits its events, which need no read then.
  const inTails = new Set<string>();
  const events: ScorableEvent[] = [];
  const readTimes: number[] = [];
  const storedElsewhere: string[] = [];
  for (let from = 0; from < ids.length; from += READ_CHUNK) {
    const chunk = ids.slice(from, from + READ_CHUNK);
    const own = chunk.filter((id) => ours(leadOf.get(id)));
    for (const id of await foundInTails(options.redis, options.keys, own, leadOf)) inTails.add(id);
    const toRead = chunk.filter((id) => !inTails.has(id));
    for (const event of await readStored(options.db, toRead, options.lock?.signal, readTimes)) {
      if (ours(event.lead_id)) events.push(event);
      else storedElsewhere.push(event.event_id);
    }
  }
  const read = performance.now();
  let folded = 0;
  let rescans = 0;
  for (let from = 0; from < events.length; from += FOLD_CHUNK) {
    await options.lock?.check();
    const result = await options.scoreStored(events.slice(from, from + FOLD_CHUNK));
    folded += result.lagsMs.length;
    rescans += result.diverted.rescan;
  }
  // Entries whose events were all stored are held now: marked, so a later restart does not look at them again. One
  // with an event not stored yet may belong to a batch still running (it stores, then commits, then marks it).
  const stored = new Set([...inTails, ...storedElsewhere, ...events.map((event) => event.event_id)]);
  // An entry with an event in hand stays: its batch marks its own entry, and this one is swept with the journal.
  const held = entries.filter((entry) => entry.events.every((id) => stored.has(id)));
  let marked = true;
  if (held.length > 0) {
    await options.lock?.check();
    const ids = held.map((entry) => entry._id);
    marked = await markEntriesDone(options.redis, options.keys.journal, ids, run, Date.now());
  }
  const ended = performance.now();
  return {
    run,
    marked,
    batches: entries.length,
    inHand: all.length - ids.length,
    inTails: inTails.size,
    events: events.length,
    folded,
    rescans,
    ms: ended - started,
    scanMs: scanned - started,
    readMs: read - scanned,
    foldMs: ended - read,
    reads: readTimes.length,
    readMaxMs: Math.round(Math.max(0, ...readTimes)),
    readMedianMs: Math.round(readTimes.sort((a, b) => a - b)[Math.floor(readTimes.length / 2)] ?? 0),
  };
}

/**
 * The events among `ids` that their leads' tails hold: their commits were kept, so the fold would skip them. One
 * pipelined HGET per lead; an event whose entry was written without its leads is never found (it is read).
 */
async function foundInTails(
  redis: Redis,
  keys: LiveKeys,
  ids: readonly string[],
  leadOf: ReadonlyMap<string, string>,
): Promise<Set<string>> {
  const byLead = new Map<string, string[]>();
  for (const id of ids) {
    const lead = leadOf.get(id);
    if (lead === undefined) continue;
    const ofLead = byLead.get(lead) ?? [];
    ofLead.push(id);
    byLead.set(lead, ofLead);
  }
  const found = new Set<string>();
  if (byLead.size === 0) return found;
  const pipeline = redis.pipeline();
  for (const lead of byLead.keys()) pipeline.hget(keys.lead(lead), leadHashField("tail"));
  const replies = (await pipeline.exec()) ?? [];
  [...byLead.values()].forEach((ofLead, index) => {
    const [error, tail] = replies[index] ?? [null, null];
    if (error) throw error;
    const held = new Set(tailEventIds(tail as string | null));
    for (const id of ofLead) if (held.has(id)) found.add(id);
  });
  return found;
}

/** The stored copies of these events (without metadata), by `_id`, a few reads at a time. */
async function readStored(
  db: Db,
  ids: readonly string[],
  signal: AbortSignal | undefined,
  times: number[],
): Promise<ScorableEvent[]> {
  const collection = db.collection<EventDocument>(COLLECTIONS.events);
  const found: ScorableEvent[] = [];
  // Each read in flight listens on the lock's signal.
  if (signal) setMaxListeners(READS_IN_FLIGHT + 10, signal);
  let next = 0;
  const reader = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      const began = performance.now();
      const doc = await collection.findOne({ _id: id }, { projection: { metadata: 0 }, signal });
      times.push(performance.now() - began);
      if (doc) found.push(toScorable(doc));
    }
  };
  await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, ids.length) }, reader));
  return found;
}
