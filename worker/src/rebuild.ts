// The live state is a function of MongoDB: the stored events (with their points) fold into every lead's score and
// history, the profiles into its name, email and company. `rebuildLiveState` recomputes it; `ensureLiveState` runs it
// when the live state is missing (a wiped Redis, deleted live keys) or may have lost writes (Redis restarted: its run
// id changed since the live state was built, so the last second of an `appendfsync everysec` log may be gone).
//
// It lays the new generation out beside the previous one, which keeps answering reads, and switches to it in one step
// at the end (live/src/next-generation.ts). While it runs, the generation key says "rebuilding" and every commit is
// refused as stale, so workers wait and then plan their batches again against the rebuilt state (events stored meanwhile are placed as usual: an event the
// rebuild folded is in the tail, or in a page, where the planner finds it).
//
// One process rebuilds at a time, holding the rebuild lock (runtime/src/lock.ts): kept alive while it reads MongoDB
// (whose reads stop when an extension fails), checked before each write, so a rebuild that lost its lock writes
// nothing more.
//
// Cost: one read of every event and profile (a full scan on either store), the fold, pipelined Redis writes and one
// insert per settled history page.
import { randomUUID } from "node:crypto";
import {
  applyRescored,
  COLLECTIONS,
  type HistoryPageDocument,
  type LeadDocument,
  type ProfileEditDocument,
  type ScorableEvent,
  type Stage,
  type StageThresholds,
} from "@leadscore/contracts";
import {
  builtOnEarlierRun,
  clearNextGeneration,
  decodePageRefs,
  encodeLeadHash,
  encodeRescoreRecord,
  fillSearchTexts,
  generationIsCurrent,
  indexPlace,
  type LeadHash,
  type LiveKeys,
  leadHashField,
  newGeneration,
  type PageRef,
  type Profile,
  pageDocument,
  REBUILDING,
  type RescoreRecord,
  RUN_CHANGED,
  redisRunId,
  renewGeneration,
  rescoreLogField,
  setProfile,
  stateFields,
  switchGeneration,
} from "@leadscore/live";
import { createLock, LockLostError, type Logger, redisPersistence } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import type { CatchUpResult } from "./catch-up.ts";
import { raiseJournalFloor } from "./journal.ts";
import { type LeadEvents, streamLeadEvents } from "./lead-event-stream.ts";
import { retirePages } from "./page-garbage.ts";
import { contentPageId } from "./page-id.ts";
import { foldWholeHistory, type NewPage, type NextState } from "./plan.ts";
import { mergedEventCounts, readIdentities, writeIdentities } from "./rebuild-identities.ts";
import { foldInPieces } from "./rebuild-pieces.ts";
import { readRescored, readRescoreLogs, retroactiveVersions, withMissedRescored } from "./rescored.ts";
import { foldOf } from "./scorer.ts";
import { insertNew } from "./store.ts";

export interface RebuildOptions {
  db: Db;
  redis: Redis;
  keys: LiveKeys;
  cap: number;
  thresholds: StageThresholds;
  log: Logger;
  now?: () => number;
  /** The rebuild lock, held: checked before each write, its signal stops the reads (`withRebuildLock` passes it). */
  lock?: HeldLock;
  /**
   * Catches up, into `generation`, what a Redis restart lost (catch-up.ts): given, a live state that came back with
   * the append-only file is caught up instead of rebuilt.
   */
  catchUp?(generation: string, lock: HeldLock): Promise<CatchUpResult>;
  /** Kept up to date while a rebuild runs (`/metrics` shows it). */
  progress?: RebuildProgress;
  /** The half-life in force (seconds), or null without decay: the fold decays with it and the index is keyed on it. */
  halfLife?: () => number | null;
  /**
   * Whether a lead is in the live state `keys` lay out (its lead partition's, docs/partitions.md); unset: every lead.
   * A partition's rebuild reads every stored lead and keeps its own.
   */
  owns?: (leadId: string) => boolean;
  /**
   * The most events the leads folded and written together may hold (default `WRITE_EVENTS`): a chunk closes at
   * `WRITE_CHUNK` leads or at this many events, whichever comes first, so what it holds does not grow with the
   * events of the leads in it. A lead with more events than this is a chunk of its own, folded a piece of this many
   * events at a time, its pages written as they settle (rebuild-pieces.ts): what one lead holds is bounded too.
   */
  writeEvents?: number;
  /**
   * Each chunk of leads as it is folded and written: its leads and their events (for those that watch the bound); a
   * lead folded in pieces reports each piece as a chunk of one lead.
   */
  onChunk?: (chunk: { leads: number; events: number }) => void;
  /**
   * Runs the full rebuild `ensureLiveState` decides on, under the lock it holds (`options.lock`); default:
   * `rebuildLiveState` in this process. The worker's runs it in a child process (rebuild-child.ts).
   */
  runRebuild?: (options: RebuildOptions) => Promise<RebuildResult>;
}

/** Where a rebuild stands: events read so far, leads written, and whether one runs. */
export interface RebuildProgress {
  running: boolean;
  eventsRead: number;
  leadsWritten: number;
}

/** A held lock as a task under it sees it. */
export interface HeldLock {
  check(): Promise<void>;
  signal: AbortSignal;
  /** The holder's token: another process may check the same lock with it (rebuild-child.ts). */
  token?: string;
}

export interface RebuildResult {
  generation: string;
  leads: number;
  events: number;
  pages: number;
  ms: number;
  /** How long the switch to the new generation ran (one script: readers and commits waited that long). */
  switchMs: number;
}

const LOCK_MS = 60_000;
const WRITE_CHUNK = 500;
/** The events one chunk of leads may hold (their events, folded histories and new pages are in memory together). */
const WRITE_EVENTS = 20_000;
/** A progress line every so many events read and leads written. */
const PROGRESS_EVENTS = 100_000;
const PROGRESS_LEADS = 10_000;

export async function rebuildLiveState(options: RebuildOptions): Promise<RebuildResult> {
  const now = options.now ?? Date.now;
  const started = performance.now();
  const progress = options.progress ?? { running: false, eventsRead: 0, leadsWritten: 0 };
  Object.assign(progress, { running: true, eventsRead: 0, leadsWritten: 0 });
  try {
    return await rebuild(options, now, started, progress);
  } finally {
    progress.running = false;
  }
}

async function rebuild(
  options: RebuildOptions,
  now: () => number,
  started: number,
  progress: RebuildProgress,
): Promise<RebuildResult> {
  const { redis, keys, log } = options;
  const check = async () => options.lock?.check();
  await check();
  const building = `${REBUILDING}${randomUUID()}`;
  await redis.set(keys.gen, building);
  // The previous generation keeps answering reads; the next one is laid out beside it (next-generation.ts).
  const into = keys.next();
  await clearNextGeneration(redis, keys);
  // Every batch journaled before the read began is in what it reads (journal.ts).
  await raiseJournalFloor(redis, keys.journal, now());

  const profiles = await readProfiles(options.db, options.lock?.signal);
  // A merged id's events are its root's, and it is no lead of its own.
  const { roots, merges } = await readIdentities(options.db, options.lock?.signal);
  const identities = mergedEventCounts(roots);
  const at = now();
  // Lead by lead, each with all its events, a bounded part of them in memory (lead-event-stream.ts).
  const ids: string[] = [];
  let count = 0;
  let pageCount = 0;
  let chunk: RebuiltLead[] = [];
  let pending: { id: string; events: readonly ScorableEvent[] }[] = [];
  let pendingEvents = 0;
  const writeEvents = options.writeEvents ?? WRITE_EVENTS;
  const named = new Set<string>();
  // A lead a retroactive publish re-scored folds with the candidates it re-matched (rescored.ts).
  const retroactive = await retroactiveVersions(options.db, options.lock?.signal);
  const flush = async () => {
    if (pending.length === 0) return;
    options.onChunk?.({ leads: pending.length, events: pendingEvents });
    const mergedInto = (id: string) => identities.merged.get(id)?.keys() ?? [];
    const rescored = await readRescored(
      options.db,
      pending.map((lead) => lead.id),
      retroactive,
      mergedInto,
    );
    const previous = await previousPages(redis, keys, pending);
    const applied = await withMissedRescored(
      options.db,
      new Map(pending.map(({ id, events }) => [id, applyRescored(events, rescored.get(id) ?? [])])),
      retroactive,
    );
    chunk = pending.map(({ id, events }, index) =>
      rebuiltLead(id, applied.get(id) ?? [...events], profiles.get(id), at, options, previous[index]),
    );
    const logs = await readRescoreLogs(
      options.db,
      pending.map((lead) => lead.id),
      retroactive,
      mergedInto,
    );
    pending = [];
    pendingEvents = 0;
    pageCount += await writeLeads(chunk, at, { ...options, keys: into }, check);
    await writeRescoreLogs(redis, into, logs);
    for (const lead of chunk) for (const ref of decodePageRefs(lead.fields.pages)) named.add(ref.id);
    chunk = [];
    progress.leadsWritten = ids.length;
    if (ids.length % PROGRESS_LEADS < WRITE_CHUNK) log.info("rebuild progress", { leads: ids.length, events: count });
  };
  const owns = options.owns ?? (() => true);
  const add = async (id: string, events: readonly ScorableEvent[]) => {
    if (!owns(id)) return;
    ids.push(id);
    count += events.length;
    // A lead that would take the chunk past its events closes the chunk before it.
    if (pending.length > 0 && pendingEvents + events.length > writeEvents) await flush();
    pending.push({ id, events });
    pendingEvents += events.length;
    if (pending.length >= WRITE_CHUNK || pendingEvents >= writeEvents) await flush();
  };
  const read = (events: number, done: boolean) => {
    progress.eventsRead = events;
    if (done || events % PROGRESS_EVENTS === 0) log.info("rebuild progress", { read: events, done });
  };
  // A lead with more events than a chunk may hold comes in pieces, folded one at a time.
  const addInPieces = async (first: LeadEvents, rest: AsyncIterator<LeadEvents>) => {
    const id = first.leadId;
    async function* pieces() {
      yield first.events;
      for (let more = first.more; more; ) {
        const next = await rest.next();
        if (next.done) throw new Error(`the events of lead ${id} ended before their last piece`);
        more = next.value.more;
        yield next.value.events;
      }
    }
    if (!owns(id)) {
      for await (const _piece of pieces()) {
        // Another partition's lead: its pieces are passed over.
      }
      return;
    }
    await flush();
    ids.push(id);
    const mergedInto = (lead: string) => identities.merged.get(lead)?.keys() ?? [];
    const rescored = (await readRescored(options.db, [id], retroactive, mergedInto)).get(id) ?? [];
    const written = new Date(at);
    const writePages = async (pages: readonly NewPage[]) => {
      const docs = pages.map((page) => pageDocument(page.id, id, page.entries, written, page.startTally));
      await check();
      await insertNew(options.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages), docs);
      pageCount += docs.length;
    };
    const folded = await foldInPieces(pieces(), {
      cap: options.cap,
      halfLifeSeconds: options.halfLife?.() ?? null,
      newPageId: (entries, startTally) => contentPageId(id, entries, startTally),
      previous: (await previousPages(redis, keys, [{ id }]))[0] ?? [],
      prepare: async (events) => {
        const applied = new Map([[id, applyRescored(events, rescored)]]);
        return (await withMissedRescored(options.db, applied, retroactive)).get(id) ?? [];
      },
      writePages,
      onPiece: (events) => options.onChunk?.({ leads: 1, events }),
    });
    count += folded.events;
    const earliest = Math.min(at, folded.earliestReceived ?? at);
    const lead = laidOutLead(id, folded.next, earliest, profiles.get(id), at, options);
    const logs = await readRescoreLogs(options.db, [id], retroactive, mergedInto);
    pageCount += await writeLeads([lead], at, { ...options, keys: into }, check);
    await writeRescoreLogs(redis, into, logs);
    for (const ref of decodePageRefs(lead.fields.pages)) named.add(ref.id);
    progress.leadsWritten = ids.length;
  };
  const stream = streamLeadEvents(options.db, {
    signal: options.lock?.signal,
    onRead: read,
    leadOf: identities.leadOf,
    pieceEvents: writeEvents,
  })[Symbol.asyncIterator]();
  try {
    for (let item = await stream.next(); !item.done; item = await stream.next()) {
      if (item.value.more === undefined) await add(item.value.leadId, item.value.events);
      else await addInPieces(item.value, stream);
    }
  } finally {
    // Left on a failure: the stream removes its files.
    await stream.return(undefined);
  }
  // Leads with a profile and no event (a merged id is no lead of its own).
  const withEvents = new Set(ids);
  for (const [id, profile] of profiles) {
    if (profile.documented && !withEvents.has(id) && !roots.has(id)) await add(id, []);
  }
  await flush();
  // Every stored page the rebuilt state does not name — superseded, or left by a process that died before its
  // commit — is retired (page-garbage.ts; the sweep keeps any a lead names by then).
  await retirePages(redis, keys, await unnamedPages(options.db, named, owns, options.lock?.signal));
  await fillSearchTexts(redis, into, ids, profiles, check);
  await check();
  await writeIdentities(redis, into, roots, identities.merged, merges);
  const generation = await newGeneration(redis, randomUUID());
  await check();
  const switched = await switchGeneration(redis, keys, building, generation);
  if (switched === null) throw new LockLostError("the live state's generation changed while it was rebuilt");
  const switchMs = switched.ms;
  await reapplyProfiles(options, profiles, now());
  const result = {
    generation,
    leads: ids.length,
    events: count,
    pages: pageCount,
    ms: performance.now() - started,
    switchMs,
  };
  log.info("live state rebuilt", { ...result, ms: Math.round(result.ms), switchMs: Math.round(switchMs) });
  return result;
}

/** Lays out the leads' re-score logs (as written when their chunk's leads were: the lock checked before). */
async function writeRescoreLogs(redis: Redis, keys: LiveKeys, logs: ReadonlyMap<string, RescoreRecord[]>) {
  if (logs.size === 0) return;
  const pipeline = redis.pipeline();
  for (const [id, records] of logs) {
    pipeline.hset(
      keys.rescoreLog(id),
      Object.fromEntries(records.map((record) => [rescoreLogField(record), encodeRescoreRecord(record)])),
    );
  }
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
}

/**
 * A profile written while the rebuild ran went to the previous generation, which the switch dropped, and the rebuild
 * may have read the profiles before it: every profile that differs now from what the rebuild read is set again (one
 * more read of the profiles and their edits; usually none differs).
 */
async function reapplyProfiles(options: RebuildOptions, read: ReadonlyMap<string, StoredProfile>, at: number) {
  const { redis, keys, cap, thresholds } = options;
  const zero = indexPlace(
    { score: 0, reachedAt: null, lastEventAt: null },
    at,
    cap,
    thresholds,
    options.halfLife?.() ?? null,
  );
  for (const [id, profile] of await readProfiles(options.db, options.lock?.signal)) {
    if (options.owns && !options.owns(id)) continue;
    const before = read.get(id)?.current;
    const same =
      before && (["name", "email", "company"] as const).every((field) => before[field] === profile.current[field]);
    if (!same) await setProfile(redis, keys, id, profile.current, at, zero);
  }
}

/** The ids of the stored pages of owned leads not in `named`: one read of `history_pages`, ids and leads only. */
async function unnamedPages(
  db: Db,
  named: Set<string>,
  owns: (leadId: string) => boolean,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const unnamed: string[] = [];
  for await (const page of db
    .collection<HistoryPageDocument>(COLLECTIONS.historyPages)
    .find({}, { projection: { _id: 1, lead_id: 1 }, batchSize: 10_000, signal })) {
    if (!named.has(page._id) && owns(page.lead_id)) unnamed.push(page._id);
  }
  return unnamed;
}

/** A lead's profile as the live state holds it: the newest of its document and its edits. */
interface StoredProfile {
  current: Profile;
  /** From the lead's document; a lead with only edits has none. */
  createdAt: number | null;
  /** Whether the lead has a document: a lead with neither events nor a document gets no live state. */
  documented: boolean;
}

/** Every lead's profile; edits are inserted, never applied in place, so a profile is the newest of them. */
async function readProfiles(db: Db, signal: AbortSignal | undefined): Promise<Map<string, StoredProfile>> {
  const documents = new Map<string, LeadDocument>();
  for await (const doc of db.collection<LeadDocument>(COLLECTIONS.leads).find({}, { batchSize: 10_000, signal })) {
    documents.set(doc._id, doc);
  }
  const edits = new Map<string, ProfileEditDocument>();
  for await (const edit of db
    .collection<ProfileEditDocument>(COLLECTIONS.profileEdits)
    .find({}, { batchSize: 10_000, signal })) {
    const known = edits.get(edit.lead_id) ?? documents.get(edit.lead_id);
    const knownAt = known === undefined ? null : "at" in known ? known.at : known.created_at;
    if (knownAt === null || new Date(edit.at).getTime() >= new Date(knownAt).getTime()) edits.set(edit.lead_id, edit);
  }
  const profiles = new Map<string, StoredProfile>();
  for (const id of new Set([...documents.keys(), ...edits.keys()])) {
    const doc = documents.get(id);
    const current = edits.get(id) ?? (doc as LeadDocument);
    profiles.set(id, {
      current: { name: current.name, email: current.email, company: current.company },
      createdAt: doc?.created_at ? new Date(doc.created_at).getTime() : null,
      documented: doc !== undefined,
    });
  }
  return profiles;
}

/** A lead's live state rebuilt: its hash, its place in the indexes and its history pages to insert. */
interface RebuiltLead {
  id: string;
  fields: LeadHash;
  rankKey: number;
  stage: Stage;
  pages: NewPage[];
}

/**
 * The pages each lead has in the previous generation (none when the live keys are gone, or the lead is idle: its
 * list is in its archive), so its rebuilt history is laid out as they were where it comes out the same.
 */
async function previousPages(redis: Redis, keys: LiveKeys, leads: readonly { id: string }[]): Promise<PageRef[][]> {
  const pipeline = redis.pipeline();
  for (const { id } of leads) pipeline.hget(keys.lead(id), leadHashField("pages"));
  return ((await pipeline.exec()) ?? []).map(([error, list]) => {
    if (error) throw error;
    return decodePageRefs(list as string | null);
  });
}

/** The fold of a lead's stored events, laid out, with its profile: a lead is created when its profile was, or else
 * when its earliest event was received. */
function rebuiltLead(
  id: string,
  events: readonly ScorableEvent[],
  profile: StoredProfile | undefined,
  at: number,
  options: Pick<RebuildOptions, "cap" | "thresholds" | "halfLife">,
  previous: readonly PageRef[] = [],
): RebuiltLead {
  const next = foldWholeHistory(
    events,
    options.cap,
    (entries, startTally) => contentPageId(id, entries, startTally),
    options.halfLife?.() ?? null,
    previous,
  );
  const earliest = events.reduce((min, event) => Math.min(min, event.received_at), at);
  return laidOutLead(id, next, earliest, profile, at, options);
}

/** A lead's live state from its history folded (`next`); `earliest`: when its first event was received, or `at`. */
function laidOutLead(
  id: string,
  next: NextState,
  earliest: number,
  profile: StoredProfile | undefined,
  at: number,
  options: Pick<RebuildOptions, "cap" | "thresholds" | "halfLife">,
): RebuiltLead {
  const halfLifeSeconds = options.halfLife?.() ?? null;
  const place = indexPlace(next, at, options.cap, options.thresholds, halfLifeSeconds);
  const fold = { ...foldOf(next, options.thresholds), stage: place.stage };
  const createdAt = profile?.createdAt ?? earliest;
  const fields: LeadHash = {
    ...stateFields({
      ...fold,
      createdAt,
      updatedAt: at,
      tail: next.tail,
      base: next.base,
      tally: next.tally,
      breakdown: next.breakdown,
      pages: next.pages,
    }),
    version: "1",
  };
  for (const field of ["name", "email", "company"] as const) {
    const value = profile?.current[field];
    if (value) fields[field] = value;
  }
  return {
    id,
    fields,
    rankKey: place.rankKey,
    stage: place.stage,
    pages: next.newPages,
  };
}

/** Inserts the leads' history pages, then writes their hashes and index entries; returns the pages inserted. */
async function writeLeads(
  leads: readonly RebuiltLead[],
  at: number,
  options: RebuildOptions,
  check: () => Promise<void>,
): Promise<number> {
  const { redis, keys } = options;
  const written = new Date(at);
  const pageDocs = leads.flatMap((lead) =>
    lead.pages.map((page) => pageDocument(page.id, lead.id, page.entries, written, page.startTally)),
  );
  const pipeline = redis.pipeline();
  for (const lead of leads) {
    pipeline.hset(keys.lead(lead.id), encodeLeadHash(lead.fields));
    pipeline.zadd(keys.byScore, lead.rankKey, lead.id);
    pipeline.zadd(keys.byUpdated, at, lead.id);
    pipeline.zadd(keys.byUpdatedIn(lead.stage), at, lead.id);
    const activity = Number(lead.fields.lastEventAt || 0);
    pipeline.zadd(keys.byLastEvent, activity, lead.id);
    pipeline.zadd(keys.byLastEventIn(lead.stage), activity, lead.id);
  }
  await check();
  if (pageDocs.length > 0) {
    await insertNew(options.db.collection<HistoryPageDocument>(COLLECTIONS.historyPages), pageDocs);
  }
  await check();
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  return pageDocs.length;
}

/**
 * Lays out the live state of leads (hash, index entries, history pages) from all their events, as a rebuild writes
 * each, without reading MongoDB: what a benchmark seeds a store with. Returns the pages inserted.
 */
export async function writeRebuiltLeads(
  options: RebuildOptions,
  leads: readonly { id: string; events: readonly ScorableEvent[] }[],
  at: number,
): Promise<number> {
  const rebuilt = leads.map((lead) => rebuiltLead(lead.id, lead.events, undefined, at, options));
  return writeLeads(rebuilt, at, options, async () => undefined);
}

/**
 * Runs `task` holding the rebuild lock (kept alive while it runs; `lock` is to pass on as `RebuildOptions.lock`); null
 * when another process holds it. Rejects with LockLostError when the lock was lost meanwhile.
 */
export async function withRebuildLock<T>(
  redis: Redis,
  keys: LiveKeys,
  task: (lock: HeldLock) => Promise<T>,
): Promise<T | null> {
  const lock = createLock({ redis, key: keys.rebuildLock, ttlMs: LOCK_MS });
  return lock.withLock((signal) => task({ check: () => lock.check(), signal, token: lock.token }));
}

/**
 * After a Redis restart that brought the live state back from its append-only file (a generation of this layout on an
 * earlier run id, and the file on): catches up what the restart lost and names the generation on this run, holding
 * the rebuild lock. Returns the renewed generation, RUN_CHANGED when Redis restarted during the catch-up (which then
 * runs again: the restart may have lost its last commits), or null when a rebuild is needed instead.
 */
async function caughtUpAfterRestart(options: RebuildOptions, lock: HeldLock, generation: string | null) {
  const { redis, keys, log, catchUp } = options;
  if (catchUp === undefined || generation === null) return null;
  if (!builtOnEarlierRun(generation, await redisRunId(redis))) return null;
  // Without the append-only file what came back is a snapshot, older than the journal may reach: rebuild.
  if (!(await redisPersistence(redis)).aof) return null;
  log.info("live state: Redis restarted on its append-only file; catching up", { generation });
  const result = await catchUp(generation, lock);
  await lock.check();
  const renewed = await renewGeneration(redis, keys, generation, result.run);
  if (renewed === RUN_CHANGED) {
    log.warn("live state: Redis restarted during the catch-up; catching up again", { generation });
    return RUN_CHANGED;
  }
  if (renewed !== null)
    log.info("live state caught up after a Redis restart", {
      ...result,
      ms: Math.round(result.ms),
      scanMs: Math.round(result.scanMs),
      readMs: Math.round(result.readMs),
      foldMs: Math.round(result.foldMs),
    });
  return renewed;
}

/**
 * The current generation of the live state, rebuilding it first when it is missing or may have lost writes. One
 * process rebuilds (a lock in Redis); the others wait for it.
 */
export async function ensureLiveState(options: RebuildOptions & { waitMs?: number }): Promise<string> {
  const { redis, keys } = options;
  const deadline = Date.now() + (options.waitMs ?? 10 * 60_000);
  for (;;) {
    const generation = await redis.get(keys.gen);
    if (await generationIsCurrent(redis, generation)) return generation as string;
    const rebuilding = generation?.startsWith(REBUILDING) && (await redis.exists(keys.rebuildLock)) === 1;
    if (!rebuilding) {
      const built = await withRebuildLock(redis, keys, async (lock) => {
        // Another process may have finished a rebuild between the read above and the lock.
        const latest = await redis.get(keys.gen);
        if (await generationIsCurrent(redis, latest)) return latest as string;
        const caughtUp = await caughtUpAfterRestart(options, lock, latest);
        // The generation it found is still on an earlier run: looked at again, under the same lock or another's.
        if (caughtUp === RUN_CHANGED) return null;
        if (caughtUp !== null) return caughtUp;
        // Live keys deleted or a rebuild begun while it caught up: look again.
        if ((await redis.get(keys.gen)) !== latest) return null;
        return (await (options.runRebuild ?? rebuildLiveState)({ ...options, lock })).generation;
      }).catch((error: unknown) => {
        // Held past its time (a stalled process): another has the lock now and rebuilds; wait for it as below.
        if (!(error instanceof LockLostError)) throw error;
        options.log.warn("rebuild stopped: its lock was lost", { error: error.message });
        return null;
      });
      if (built !== null) return built;
    }
    if (Date.now() > deadline) throw new Error("the live state is still being rebuilt by another process");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
