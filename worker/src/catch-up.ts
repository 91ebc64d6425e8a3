// After a Redis restart that kept the live state (its generation, in this version's layout, came back from the
// append-only file), the worker catches up what the restart lost instead of rebuilding: the events of the journal's
// unfinished batches (journal.ts) — the only stored events whose commits the file may not hold — are read by `_id`
// (their stored copies) and folded like a batch run again: one in its lead's tail is skipped, one newer than its
// lead's newest is folded, any other sends the lead to the deep lane to rescan it. Then the generation is named on
// the new run of Redis (`renewGeneration`), and reads and `/readyz` take it as current.
//
// A clean restart (SHUTDOWN wrote everything) finds only the batches in flight when Redis stopped, whose commits
// came back or are redone; a restart that lost its last second (`appendfsync everysec`, SIGKILL) finds that second's.
// Cost: one scan of the journal (a few minutes of batches), one `_id` read per event of the unfinished batches, and
// their fold — what was lost, not what is stored.
import { setMaxListeners } from "node:events";
import { COLLECTIONS, type EventDocument, type ScorableEvent, toScorable } from "@leadscore/contracts";
import type { LiveKeys } from "@leadscore/live";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { unfinishedEntries } from "./journal.ts";
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
}

export interface CatchUpResult {
  /** Journal entries without a done mark. */
  batches: number;
  /** Their events found stored (an entry's events may not have been stored: its batch died before). */
  events: number;
  /** Of those, folded now (the rest were held by the live state already, or went to the deep lane). */
  folded: number;
  /** Leads sent to the deep lane to rescan. */
  rescans: number;
  ms: number;
}

/** Reads that run at once: each is one `_id` lookup (pushed down on FerretDB too). */
const READS_IN_FLIGHT = 16;
/** Events folded per scorer call. */
const FOLD_CHUNK = 5_000;

export async function catchUp(options: CatchUpOptions): Promise<CatchUpResult> {
  const started = performance.now();
  const entries = await unfinishedEntries({ db: options.db, redis: options.redis, keys: options.keys.journal });
  const ids = [...new Set(entries.flatMap((entry) => entry.events))];
  const read = await readStored(options.db, ids, options.lock?.signal);
  // Another partition's batches are unfinished here (each partition marks its own): their events are not this one's.
  const owns = options.owns;
  const events = owns ? read.filter((event) => owns(event.lead_id)) : read;
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
  const stored = new Set(read.map((event) => event.event_id));
  const held = entries.filter((entry) => entry.events.every((id) => stored.has(id)));
  if (held.length > 0) {
    await options.lock?.check();
    const pipeline = options.redis.pipeline();
    for (const entry of held) pipeline.zadd(options.keys.journal.done, Date.now(), entry._id);
    await pipeline.exec();
  }
  return { batches: entries.length, events: events.length, folded, rescans, ms: performance.now() - started };
}

/** The stored copies of these events (without metadata), by `_id`, a few reads at a time. */
async function readStored(db: Db, ids: readonly string[], signal: AbortSignal | undefined): Promise<ScorableEvent[]> {
  const collection = db.collection<EventDocument>(COLLECTIONS.events);
  const found: ScorableEvent[] = [];
  // Each read in flight listens on the lock's signal.
  if (signal) setMaxListeners(READS_IN_FLIGHT + 10, signal);
  let next = 0;
  const reader = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      const doc = await collection.findOne({ _id: id }, { projection: { metadata: 0 }, signal });
      if (doc) found.push(toScorable(doc));
    }
  };
  await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, ids.length) }, reader));
  return found;
}
