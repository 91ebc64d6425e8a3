// The batch journal: how the worker finds, after Redis restarted on its append-only file, the stored events the file
// may have lost the commits of — without reading every stored event.
//
// Each try of a batch inserts an entry (its event ids) into MongoDB's `batch_journal` *before* it stores the events,
// and once its last commit returned it adds the entry's id to a sorted set in Redis (`journal:done`). The
// append-only file is a prefix of Redis's writes: a restart that lost its last second lost the newest writes and
// kept every one before them. So an entry marked done in the Redis that came back had every commit of its batch
// kept (they were written before the mark); an entry without a mark may have lost some or all of them, and its
// events are the gap — the only ones a catch-up looks at. An event stored without an entry cannot exist (the entry
// is inserted first), and a batch's commits are all idempotent, so looking at an event that was in fact kept costs a
// read and changes nothing.
//
// That holds only if the mark ran on the very Redis process the commits ran on: the worker's connection resends the
// commands that had no reply when it dropped (ioredis `autoResendUnfulfilledCommands`) and queues those issued while
// it is down, so a mark — or one partition's commit, then the mark — sent just before a SIGKILL ran on the Redis that
// came back, which may have lost the commits before it: the mark survived, the catch-up skipped the entry, its events
// stayed unfolded (worker/test/journal-resend.test.ts). So the mark is a script that writes it only on the run the
// entry was opened on (`mark-journal-done-1.lua`, checking `run_id`): the commits were sent after that run was learned
// and before the mark, so a mark that run wrote follows every commit on that run. A mark it refuses fails the batch's
// try, which runs again under a new entry (the batch's next try, or its job's); the old entry stays unmarked, for a
// catch-up. A connection that neither resends nor queues would not be enough: a commit issued after the reconnection
// (the batch's next chunk, or another partition's) runs on the new Redis too, and so would the mark after it. Cost:
// one script instead of one ZADD per batch, and after a restart each batch opened before the worker learned the new
// run fails once.
//
// A catch-up's marks (catch-up.ts) are written the same way, on the run it learned before its first commit: were
// Redis killed during the catch-up and back without its last commits, a mark resent to it would vouch for them. The
// generation it then renews (`renewGeneration`) is checked likewise, so a catch-up interrupted by a restart runs again.
//
// Entries are swept once older than RETENTION_MS (a minute after the restart that loses a second, the restart has
// long been seen); the sweep runs only while the live state's generation is current, so a restart not yet caught up
// never has its gap swept. A rebuild reads every stored event, so it raises the floor: older entries are held by
// the live state it built. The marks are trimmed with the entries.
//
// An entry also names the run of Redis its batch began on (`run_id`): one begun on the Redis that came back is not
// the restart's to catch up — its commits go to this run, and without a done mark its job's next try redoes them —
// so a catch-up right after a restart does not read the backlog's batches in flight.
//
// An entry also names each event's lead, so a catch-up first looks for the event in its lead's tail in Redis (where a
// kept commit put it) and reads from MongoDB only the events it does not find there: most of an unfinished batch's
// commits were kept (its done mark was what the restart lost), and on the embedded store each read by `_id` queues
// behind the inserts of the backlog a restart leaves (measured: 0.2–1.7 s a read at 2,000 events/s).
//
// An entry is two documents inserted together under one `_id`: the entry itself (`batch_journal`: its time and run,
// a few dozen bytes) and its ids (`batch_journal_ids`). A catch-up scans the entries only, then reads by `_id` the ids
// of those without a done mark: FerretDB pushes no filter but an `_id` equality down and decodes each whole document
// a scan passes, so with the ids inline the scan read every id of the last minutes — after a drain of a million
// events, tens of MB (measured on the embedded store: 3,000 entries of 500 ids scanned in 6.6 s; filters on `at` or
// `_id` ranges, and a sort on `_id` with a limit, were no faster: 2.3–3.7 s, each a scan).
//
// Cost: two inserts of one document each per batch, at once (FerretDB: two more rows per batch, not per event), one
// ZADD per batch; the sweep scans both (a few minutes of batches, not the events). The ids are kept as two texts, not
// arrays: FerretDB decodes every element of an array on each scan, and with arrays of a few thousand ids a sweep
// under a steady drain read tens of MB of them a minute (measured on the embedded store: a scan of 150 entries of
// 3,000 ids ~27× faster as texts, an insert ~2.5×).
import { randomUUID } from "node:crypto";
import {
  type BatchJournalDocument,
  type BatchJournalIdsDocument,
  COLLECTIONS,
  type ScorableEvent,
} from "@leadscore/contracts";
import { type JournalKeys, LIVE_LUA_INCLUDES, redisRunId } from "@leadscore/live";
import { findByIds, redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";

/** How long an entry is kept: far longer than a batch runs and than the second `everysec` may lose. */
export const JOURNAL_RETENTION_MS = 5 * 60_000;

/** Entries this much older than a rebuild's start may have been stored after its read began: they stay above the floor. */
const FLOOR_MARGIN_MS = 60_000;

/** The done mark, written only on the run of Redis the batch began on (see the header). */
const MARK_DONE = redisScript<number>(new URL("./lua/mark-journal-done-1.lua", import.meta.url), {
  roots: { live: LIVE_LUA_INCLUDES },
});

/** Entries marked per script call: each call is one short script, beside the edge's dedupe claims. */
const MARKS_PER_CALL = 500;

/**
 * Marks these entries done, only while Redis is the run `run` names (learned before the commits the marks vouch
 * for): false, and the rest left unmarked, once a call finds another run.
 */
export async function markEntriesDone(
  redis: Redis,
  keys: Pick<JournalKeys, "done">,
  ids: readonly string[],
  run: string,
  at: number,
): Promise<boolean> {
  for (let from = 0; from < ids.length; from += MARKS_PER_CALL) {
    const marked = await MARK_DONE.run(redis, [keys.done], [at, run, ...ids.slice(from, from + MARKS_PER_CALL)]);
    if (marked !== 1) return false;
  }
  return true;
}

/**
 * The run each entry opened lately began on, by id, for its mark: a batch of several partitions opens its entry with
 * one partition's journal and marks it with each partition's. Kept for the newest OPENED_KEPT entries (far more than
 * the batches in flight): an entry whose try failed before its mark is dropped here with the older ones.
 */
const openedOn = new Map<string, string | undefined>();
const OPENED_KEPT = 10_000;

/** A mark refused: the batch's commits may have run on a Redis that lost them (see the header); its try fails. */
export class JournalRunChangedError extends Error {
  constructor(id: string) {
    super(`journal entry ${id}: Redis restarted since the batch began; not marked done`);
  }
}

/** An entry as a catch-up reads it: its ids as lists, whichever form stored them. */
export interface JournalEntry {
  _id: string;
  at: Date;
  events: string[];
  leads?: string[];
  run?: string;
}

/** Ids as an entry stores them: one text, separated by spaces (the ids' alphabet has none). */
const ID_SEPARATOR = " ";

function idsOf(stored: string | string[]): string[] {
  if (Array.isArray(stored)) return stored;
  return stored === "" ? [] : stored.split(ID_SEPARATOR);
}

export interface BatchJournal {
  /** Inserts an entry for a batch of these events; resolves with its id once stored. */
  open(events: readonly Pick<ScorableEvent, "event_id" | "lead_id">[]): Promise<string>;
  /** Marks the entry done: every commit of its batch returned. */
  done(id: string): Promise<void>;
}

export interface JournalOptions {
  db: Db;
  redis: Redis;
  keys: JournalKeys;
  now?: () => number;
}

export function createBatchJournal(options: JournalOptions): BatchJournal {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const entries = options.db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal);
  const idsOfEntries = options.db.collection<BatchJournalIdsDocument>(COLLECTIONS.batchJournalIds);
  // The run of Redis this process last saw, learned again at every (re)connection: until then an entry carries the
  // run before, which only makes a catch-up look at it too.
  let run: string | undefined;
  const learnRun = () =>
    redisRunId(redis).then(
      (id) => {
        run = id;
      },
      () => undefined,
    );
  const learned = learnRun();
  redis.on("ready", () => void learnRun());
  return {
    async open(events) {
      if (run === undefined) await learned;
      const id = randomUUID();
      const at = new Date(now());
      const entry: BatchJournalDocument = { _id: id, at };
      if (run !== undefined) entry.run = run;
      await Promise.all([
        entries.insertOne(entry),
        idsOfEntries.insertOne({
          _id: id,
          at,
          events: events.map((event) => event.event_id).join(ID_SEPARATOR),
          leads: events.map((event) => event.lead_id).join(ID_SEPARATOR),
        }),
      ]);
      openedOn.set(id, run);
      if (openedOn.size > OPENED_KEPT) openedOn.delete(openedOn.keys().next().value as string);
      return id;
    },
    async done(id) {
      const began = openedOn.get(id);
      if (began === undefined || !(await markEntriesDone(redis, keys, [id], began, now()))) {
        throw new JournalRunChangedError(id);
      }
    },
  };
}

/**
 * The journal entries the live state may not hold: above the floor, opened before this run of Redis began (one opened
 * on it is a batch of this run, whose commits this run holds or whose own tries redo them), without a done mark. The
 * scan reads the small entries only (almost every entry is done); the ids of the unfinished ones are then read by
 * `_id`, the one lookup FerretDB does not scan for (from the entry itself when it was written with them inline).
 */
export async function unfinishedEntries(options: JournalOptions): Promise<JournalEntry[]> {
  const { redis, keys } = options;
  const entries = options.db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal);
  const floor = Number((await redis.get(keys.floor)) ?? 0);
  const run = await redisRunId(redis);
  const found: string[] = [];
  for await (const entry of entries.find({}, { projection: { _id: 1, at: 1, run: 1 }, batchSize: 10_000 })) {
    if (entry.at.getTime() >= floor && entry.run !== run) found.push(entry._id);
  }
  return readJournalEntries(options.db, await unmarkedEntries(redis, [keys.done], found));
}

/** Of these entry ids, those no set of done marks in `doneKeys` holds (one ZMSCORE per 500 ids and set). */
export async function unmarkedEntries(
  redis: Redis,
  doneKeys: readonly string[],
  ids: readonly string[],
): Promise<string[]> {
  const unmarked: string[] = [];
  for (let from = 0; from < ids.length; from += 500) {
    const chunk = ids.slice(from, from + 500);
    const done = new Set<string>();
    for (const key of doneKeys) {
      const scores = (await redis.call("ZMSCORE", key, ...chunk)) as (string | null)[];
      chunk.forEach((id, index) => {
        if (scores[index] !== null) done.add(id);
      });
    }
    unmarked.push(...chunk.filter((id) => !done.has(id)));
  }
  return unmarked;
}

/**
 * The entries of these ids with their event ids and leads, in the order of `ids`, read by `_id` a few at once
 * (findByIds: the ids may be a journal's worth) from `batch_journal_ids`, or from the entry itself when it was written
 * with them inline; an id with neither is left out.
 */
export async function readJournalEntries(
  db: Db,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<JournalEntry[]> {
  const entries = db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal);
  const idsOfEntries = db.collection<BatchJournalIdsDocument>(COLLECTIONS.batchJournalIds);
  const withIds = new Map((await findByIds(idsOfEntries, ids, { signal })).map((doc) => [doc._id, doc] as const));
  // Without their ids: entries written with them inline, or whose batch died between the two inserts (before storing
  // any event: they have none).
  const without = ids.filter((id) => !withIds.has(id));
  const inline = new Map((await findByIds(entries, without, { signal })).map((doc) => [doc._id, doc] as const));
  return ids.flatMap((id): JournalEntry[] => {
    const entry = withIds.get(id) ?? inline.get(id);
    if (entry === undefined) return [];
    const { at, events, leads } = entry;
    return [{ _id: id, at, events: idsOf(events ?? ""), ...(leads !== undefined && { leads: idsOf(leads) }) }];
  });
}

/**
 * Deletes the entries older than the retention and their marks (call it only while the live state's generation is
 * current); returns the entries deleted. One scan of the journal.
 */
export async function sweepJournal(options: JournalOptions): Promise<number> {
  const now = options.now ?? Date.now;
  const horizon = now() - JOURNAL_RETENTION_MS;
  const older = { at: { $lt: new Date(horizon) } };
  const [{ deletedCount }] = await Promise.all([
    options.db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal).deleteMany(older),
    options.db.collection<BatchJournalIdsDocument>(COLLECTIONS.batchJournalIds).deleteMany(older),
  ]);
  // A mark outlives its entry by a retention: a batch that took long is still found done.
  await options.redis.zremrangebyscore(options.keys.done, "-inf", horizon - JOURNAL_RETENTION_MS);
  return deletedCount;
}

/** After a rebuild that began reading the stored events at `readFrom`: older entries are in the live state. */
export async function raiseJournalFloor(redis: Redis, keys: JournalKeys, readFrom: number): Promise<void> {
  await redis.set(keys.floor, String(readFrom - FLOOR_MARGIN_MS));
}
