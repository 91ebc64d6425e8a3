// Every stored event, lead by lead, each lead's events in event-time order, in memory bounded whatever the number of
// events: what a preview, a re-score or a rebuild folds.
//
// On FerretDB every read but an `_id` equality scans the collection, and so does every sort, so the events are read
// once, unsorted: each is appended to one of a few bucket files in a temporary folder, the bucket chosen by a hash of
// its lead, so all of a lead's events share one. Then each bucket is read back alone, its events grouped by lead and
// sorted in memory. A bucket larger than `maxBucketBytes` is split again, by another hash, before it is read, so the
// memory a bucket takes stays bounded as the collection grows (a single lead's events are never split: one lead
// holding more than the bound is read whole). With `pieceEvents` a lead is not held whole either: one with more
// events comes in pieces, and a lead over the bound alone is sorted on disk (runs within the bound, sorted in memory,
// then merged a line at a time). The folder is removed when the stream ends, is left early, or fails; one a killed
// process left is removed by name (lead-event-folders.ts).
import { createReadStream } from "node:fs";
import { appendFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { COLLECTIONS, compareEvents, type EventDocument, type ScorableEvent, toScorable } from "@leadscore/contracts";
import type { Db } from "mongodb";
import { leadEventFolderPrefix } from "./lead-event-folders.ts";

/** A stored event as the stream gives it; `metadata` only when asked for. */
export interface StreamedEvent extends ScorableEvent {
  metadata?: Record<string, unknown>;
}

export interface LeadEvents {
  leadId: string;
  /** Distinct by `event_id` (the store's key), in `(timestamp, event_id)` order. */
  events: StreamedEvent[];
  /**
   * Set when the lead comes in pieces (`pieceEvents`): true on every piece but its last, which is false. Its pieces
   * are consecutive, in order.
   */
  more?: boolean;
}

export interface LeadEventStreamOptions {
  /** Include each event's metadata (needed to match rules again); left out by default. */
  metadata?: boolean;
  /** Where the temporary folder goes (default: the system's). */
  tmpDir?: string;
  /** Buckets of the first pass (default 64). */
  buckets?: number;
  /** The most text one bucket may hold when it is read into memory (default 16 MiB). */
  maxBucketBytes?: number;
  /**
   * The lead an event stored under `leadId` belongs to (a merged id's root: rebuild-identities.ts); its `lead_id` is
   * rewritten to it and it is grouped with that lead's. Called once per event read. Default: the stored id.
   */
  leadOf?: (leadId: string) => string;
  /** Stops the read and the stream (the stream then throws the signal's reason). */
  signal?: AbortSignal;
  /** Events read so far, every `READ_PROGRESS_EVERY` events and once more when the read is done (`done: true`). */
  onRead?: (events: number, done: boolean) => void;
  /**
   * The most events of one lead given at once: a lead with more comes in pieces of this many (`LeadEvents.more`), and
   * one whose events alone exceed `maxBucketBytes` is sorted on disk. Default: every lead whole.
   */
  pieceEvents?: number;
  /** A bucket (or a run of a lead sorted on disk) read into memory: its size, for those that watch the bound. */
  onBucket?: (bucket: { bytes: number; events: number }) => void;
}

const DEFAULT_BUCKETS = 64;
const DEFAULT_MAX_BUCKET_BYTES = 16 * 1024 * 1024;
const READ_BATCH = 10_000;
const READ_PROGRESS_EVERY = 10_000;
/** Text buffered across all buckets before it is appended to their files. */
const FLUSH_BYTES = 4 * 1024 * 1024;

/** FNV-1a over the lead id and a salt, so a bucket split again spreads its leads by another hash. */
function hashOf(leadId: string, salt: number): number {
  let hash = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < leadId.length; i += 1) {
    hash ^= leadId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Lines appended to a set of files, buffered in memory up to `FLUSH_BYTES` in all. */
class BucketWriter {
  private readonly pending: string[][];
  private buffered = 0;

  constructor(private readonly paths: readonly string[]) {
    this.pending = paths.map(() => []);
  }

  async add(bucket: number, line: string): Promise<void> {
    (this.pending[bucket] as string[]).push(line);
    this.buffered += line.length + 1;
    if (this.buffered >= FLUSH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    for (const [i, lines] of this.pending.entries()) {
      if (lines.length === 0) continue;
      await appendFile(this.paths[i] as string, `${lines.join("\n")}\n`);
      this.pending[i] = [];
    }
    this.buffered = 0;
  }
}

interface Bucket {
  path: string;
  /** The hash salt its leads were spread by; a split uses the next. */
  salt: number;
  /** A split sent all of its parent's lines here: one lead's, most likely, which no split would shrink. */
  oneLead?: boolean;
}

function bucketPaths(dir: string, name: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => join(dir, `${name}-${i}.jsonl`));
}

/** The first pass: every event appended, as a line of JSON, to its lead's bucket. */
async function spillEvents(db: Db, dir: string, count: number, options: LeadEventStreamOptions): Promise<Bucket[]> {
  const paths = bucketPaths(dir, "b", count);
  const writer = new BucketWriter(paths);
  const projection = options.metadata ? {} : { metadata: 0 };
  const cursor = db
    .collection<EventDocument>(COLLECTIONS.events)
    .find({}, { projection, batchSize: READ_BATCH, signal: options.signal });
  let read = 0;
  for await (const doc of cursor) {
    const event: StreamedEvent = toScorable(doc);
    if (options.leadOf) event.lead_id = options.leadOf(event.lead_id);
    if (options.metadata) event.metadata = doc.metadata ?? {};
    await writer.add(hashOf(event.lead_id, 0) % count, JSON.stringify(event));
    read += 1;
    if (read % READ_PROGRESS_EVERY === 0) options.onRead?.(read, false);
  }
  await writer.flush();
  options.onRead?.(read, true);
  return paths.map((path) => ({ path, salt: 0 }));
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

/** A bucket over the bound spread over enough new ones, by the next salt; the old file is removed. */
async function split(bucket: Bucket, bytes: number, maxBytes: number, dir: string, serial: number): Promise<Bucket[]> {
  const count = Math.max(2, Math.ceil((2 * bytes) / maxBytes));
  const salt = bucket.salt + 1;
  const paths = bucketPaths(dir, `s${serial}`, count);
  const writer = new BucketWriter(paths);
  const lines = createInterface({ input: createReadStream(bucket.path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line === "") continue;
    const leadId = (JSON.parse(line) as StreamedEvent).lead_id;
    await writer.add(hashOf(leadId, salt) % count, line);
  }
  await writer.flush();
  await rm(bucket.path, { force: true });
  const sizes = await Promise.all(paths.map(sizeOf));
  return paths.map((path, i) => ({ path, salt, oneLead: sizes[i] === bytes }));
}

/** A bucket's events by lead (ids in order), each lead's in event-time order. */
function groupByLead(text: string): LeadEvents[] {
  const byLead = new Map<string, StreamedEvent[]>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const event = JSON.parse(line) as StreamedEvent;
    const list = byLead.get(event.lead_id);
    if (list === undefined) byLead.set(event.lead_id, [event]);
    else list.push(event);
  }
  return [...byLead.keys()]
    .sort()
    .map((leadId) => ({ leadId, events: (byLead.get(leadId) as StreamedEvent[]).sort(compareEvents) }));
}

/** A lead's events, whole when they fit in one piece, or else in pieces of `size`. */
function* inPieces(leadId: string, events: StreamedEvent[], size: number): Generator<LeadEvents> {
  if (events.length <= size) {
    yield { leadId, events };
    return;
  }
  for (let from = 0; from < events.length; from += size) {
    yield { leadId, events: events.slice(from, from + size), more: from + size < events.length };
  }
}

/** By lead, then in `(timestamp, event_id)` order. */
function compareLeadEvents(a: StreamedEvent, b: StreamedEvent): number {
  if (a.lead_id !== b.lead_id) return a.lead_id < b.lead_id ? -1 : 1;
  return compareEvents(a, b);
}

/** Lines of a file one at a time, as an iterator the caller pulls. */
function linesOf(path: string): AsyncIterator<string> {
  return createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })[
    Symbol.asyncIterator
  ]();
}

/** A bucket's lines in runs of at most half the bound, each sorted by `compareLeadEvents`, a file each. */
async function sortedRuns(
  path: string,
  maxBytes: number,
  dir: string,
  serial: number,
  options: LeadEventStreamOptions,
) {
  const runs: string[] = [];
  let run: StreamedEvent[] = [];
  let runBytes = 0;
  const close = async () => {
    if (run.length === 0) return;
    const runPath = join(dir, `r${serial}-${runs.length}.jsonl`);
    options.onBucket?.({ bytes: runBytes, events: run.length });
    await appendFile(
      runPath,
      `${run
        .sort(compareLeadEvents)
        .map((event) => JSON.stringify(event))
        .join("\n")}\n`,
    );
    runs.push(runPath);
    run = [];
    runBytes = 0;
  };
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line === "") continue;
    if (runBytes + line.length + 1 > maxBytes / 2) await close();
    run.push(JSON.parse(line) as StreamedEvent);
    runBytes += line.length + 1;
  }
  await close();
  await rm(path, { force: true });
  return runs;
}

/**
 * A bucket over the bound that no split shrinks (one lead's events, most likely), sorted on disk: in runs, then merged
 * an event at a time from every run, each lead's events given in pieces of `size`.
 */
async function* sortedOnDisk(
  path: string,
  maxBytes: number,
  dir: string,
  serial: number,
  size: number,
  options: LeadEventStreamOptions,
): AsyncGenerator<LeadEvents> {
  const runs = (await sortedRuns(path, maxBytes, dir, serial, options)).map(linesOf);
  const heads: (StreamedEvent | undefined)[] = [];
  const advance = async (i: number) => {
    const next = await (runs[i] as AsyncIterator<string>).next();
    heads[i] = next.done || next.value === "" ? undefined : (JSON.parse(next.value) as StreamedEvent);
  };
  try {
    for (let i = 0; i < runs.length; i += 1) await advance(i);
    let piece: StreamedEvent[] = [];
    for (;;) {
      let least = -1;
      for (let i = 0; i < heads.length; i += 1) {
        const head = heads[i];
        if (head !== undefined && (least < 0 || compareLeadEvents(head, heads[least] as StreamedEvent) < 0)) least = i;
      }
      const event = heads[least];
      const lead = piece[0]?.lead_id;
      if (lead !== undefined && (event === undefined || event.lead_id !== lead || piece.length === size)) {
        options.signal?.throwIfAborted();
        // A piece is the lead's last when the next event is another lead's, or there is none.
        const more = event !== undefined && event.lead_id === lead;
        yield { leadId: lead, events: piece, more };
        piece = [];
      }
      if (event === undefined) break;
      piece.push(event);
      await advance(least);
    }
  } finally {
    // Left early: the runs' reads are closed (the folder goes with the stream).
    await Promise.all(runs.map((run) => run.return?.()));
  }
}

/**
 * Every lead that has stored events, once, with all its events in `(timestamp, event_id)` order. Leads come bucket
 * by bucket, in no order a caller should rely on. One read of the `events` collection.
 */
export async function* streamLeadEvents(db: Db, options: LeadEventStreamOptions = {}): AsyncGenerator<LeadEvents> {
  const maxBytes = options.maxBucketBytes ?? DEFAULT_MAX_BUCKET_BYTES;
  // Named after this process, so that what it leaves if killed is found (lead-event-folders.ts).
  const dir = await mkdtemp(leadEventFolderPrefix(options.tmpDir ?? tmpdir()));
  try {
    const queue = await spillEvents(db, dir, Math.max(1, options.buckets ?? DEFAULT_BUCKETS), options);
    let serial = 0;
    for (let bucket = queue.shift(); bucket !== undefined; bucket = queue.shift()) {
      options.signal?.throwIfAborted();
      const bytes = await sizeOf(bucket.path);
      if (bytes === 0) continue;
      if (bytes > maxBytes && !bucket.oneLead) {
        serial += 1;
        queue.unshift(...(await split(bucket, bytes, maxBytes, dir, serial)));
        continue;
      }
      if (bytes > maxBytes && options.pieceEvents !== undefined) {
        serial += 1;
        yield* sortedOnDisk(bucket.path, maxBytes, dir, serial, options.pieceEvents, options);
        continue;
      }
      const leads = groupByLead(await readFile(bucket.path, "utf8"));
      await rm(bucket.path, { force: true });
      options.onBucket?.({ bytes, events: leads.reduce((sum, lead) => sum + lead.events.length, 0) });
      for (const lead of leads) {
        options.signal?.throwIfAborted();
        if (options.pieceEvents === undefined) yield lead;
        else yield* inPieces(lead.leadId, lead.events, options.pieceEvents);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
