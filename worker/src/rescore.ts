// The re-score of every lead after a retroactive publish (runtime/src/rescores.ts queues it), online: batches and
// the deep lane go on scoring meanwhile. Per lead, in chunks: its whole history as the live state holds it (the
// tail, and its pages by `_id`: `readLiveLeads`), each event matched again under the version published (with its
// stored metadata when a rule of the set reads `metadata.*`: then every stored event is streamed once, as a preview
// does), folded from scratch with the step a rescan and a rebuild lay a history out with (`foldWholeHistory`). The
// re-matched candidates are stored (`rescored_candidates`, by `_id`) and the new pages inserted before the commit,
// which compares the lead's version as every commit does (`commitRescored`), so a lead switches atomically and an
// event a batch folded into it meanwhile is never lost: the lead is read and folded again. A lead the deep lane
// owns is tried again later. The record of the move the commit writes in the lead's re-score log is inserted into
// `rescore_log` after the commit returned, off the commits' path (gathered while an insert is under way), so a rebuild
// lays the log out again. Between chunks it yields while jobs wait in the queue past what live traffic needs.
//
// Exactly once for the events arriving meanwhile, whatever the timing: the publish names the version to every batch
// matched after it, and the job waits for the batches filed before it to commit before it reads any lead
// (rules-fence.ts), so an event stored after a lead's re-score carries the version's candidates already, and an event
// stored before it is folded by it. An event whose candidates already come from the version is kept as it is.
import {
  COLLECTIONS,
  encodeRescoredEvents,
  type HistoryPageDocument,
  type LeadProfile,
  type RescoredCandidatesDocument,
  type RescoreLogDocument,
  type RuleSet,
  rescoredCandidatesId,
  type ScorableEvent,
  type ScoreUpdate,
  withRescoredCandidates,
} from "@leadscore/contracts";
import {
  commitRescored,
  decodeRescoreRecord,
  indexPlace,
  type LiveKeys,
  pageDocument,
  type RescoreCommit,
  rescoreLogDocument,
  StaleLiveStateError,
} from "@leadscore/live";
import {
  createLock,
  currentRescoreKey,
  LockLostError,
  leadPartition,
  type RescoreFields,
  type RescoreJob,
  readCurrentRescore,
  readRuleSetVersion,
  rescoreRunLockKey,
  updateRescore,
} from "@leadscore/runtime";
import { streamLeadEvents } from "./lead-event-stream.ts";
import { type LiveLeadEvents, leadsWithEvents, readLiveLeads } from "./live-lead-stream.ts";
import { retirePages, superseded } from "./page-garbage.ts";
import { contentPageId } from "./page-id.ts";
import { foldWholeHistory, type NextState, scoreUpdateOf } from "./plan.ts";
import { createPoller } from "./poller.ts";
import { rematchUnfinishedBatches } from "./rescore-journal.ts";
import { createMissedRematcher } from "./rescore-missed.ts";
import { readsMetadata, ruleMatcher } from "./rules-cache.ts";
import { batchesBeforeLeft } from "./rules-fence.ts";
import { type LiveWriterOptions, liveFields } from "./scorer.ts";
import { insertNew } from "./store.ts";

/** One lead partition's live state, as a re-score walks and commits it. */
export interface RescoreLayout {
  keys: LiveKeys;
  /** The partition's live-state generation its commits go into. */
  generation(): string | Promise<string>;
}

export interface RescoreOptions extends LiveWriterOptions {
  prefix: string;
  /**
   * Every lead partition, in partition order (a lead's is `leadPartition(id, layouts.length)`): the re-score walks
   * each one's leads and commits each lead in its own. Without it, `keys` and `generation` alone.
   */
  layouts?: readonly RescoreLayout[];
  /** Leads per chunk (one read pipeline, one commit call). */
  chunk?: number;
  /** How often progress is written and a newer publish looked for. */
  progressMs?: number;
  tmpDir?: string;
  /** Called with the updates a chunk committed (the leaderboard follows them). */
  onCommitted?(updates: ScoreUpdate[]): void | Promise<void>;
  /**
   * Whether events wait in the queue longer than live traffic needs (queue-idle.ts: `createQueueBacklogged`): between
   * chunks the re-score waits (up to `YIELD_MS`) while they do, so live traffic keeps its lag while every lead is
   * re-scored. A job in hand is no reason to wait: live traffic keeps one in hand nearly all the time.
   */
  queueBacklogged?: () => Promise<boolean>;
  /** Runs after a chunk's pages are written and before its commit (tests interleave a batch here). */
  beforeCommit?: () => Promise<void>;
}

/** The progress of the re-score this process runs, for `/metrics`. */
export interface RescoreStats {
  running: boolean;
  version: number;
  leadsTotal: number;
  leadsDone: number;
  eventsDone: number;
}

const CHUNK = 200;
const LOCK_MS = 30_000;
/** The longest a chunk waits for the queue to empty before the next one goes on regardless. */
const YIELD_MS = 500;
/** How long the oldest waiting job may have waited before a re-score yields to the batches (`queueBacklogged`). */
export const BACKLOG_MS = 250;
/** Rounds a chunk's leads that keep moving (or that the deep lane owns) are read again before they wait for the end. */
const ROUNDS = 5;
/** Records a run lets wait for their insert before its next chunk waits for them. */
const RECORDS_BEHIND = 5_000;

/**
 * The versions whose re-score runs began and never stored every record they wrote (a set): a run adds its own at its
 * start and takes it, and those of the runs it stored the records of, off at its end.
 */
export function unstoredKey(prefix: string): string {
  return `${prefix}:rescore:records-unstored`;
}

class Superseded extends Error {
  override name = "Superseded";
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** The newest rules version among the events' (null when none carries one). */
function scoredBefore(events: readonly ScorableEvent[]): number | null {
  let newest: number | null = null;
  for (const event of events) {
    if (event.rules_version != null && (newest === null || event.rules_version > newest)) newest = event.rules_version;
  }
  return newest;
}

/** One pass over some leads: the version, its job and progress, the chunk's metadata (when read) and its rounds. */
interface Pass {
  set: RuleSet;
  job: RescoreJob;
  progress: RescoreJob["progress"];
  metadata: Map<string, Record<string, unknown>> | null;
  /** Versions whose runs never ended, whose records may be in the live logs only (`storeLoggedBefore`). */
  older: readonly number[];
  rounds: number;
  signal: AbortSignal;
}

/** A lead re-scored in memory: what to store, insert and commit. */
interface Planned {
  item: LiveLeadEvents;
  next: NextState;
  rematched: ScorableEvent[];
}

export function createRescorer(options: RescoreOptions) {
  const { db, redis, cap, thresholds } = options;
  const layouts: readonly RescoreLayout[] = options.layouts ?? [{ keys: options.keys, generation: options.generation }];
  const now = options.now ?? Date.now;
  const halfLife = () => options.halfLife?.() ?? null;
  const chunk = options.chunk ?? CHUNK;
  const pages = db.collection<HistoryPageDocument>(COLLECTIONS.historyPages);
  const rescored = db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates);
  const rescoreLog = db.collection<RescoreLogDocument>(COLLECTIONS.rescoreLog);
  const rematchMissed = createMissedRematcher({ db, now });
  const stats: RescoreStats = { running: false, version: 0, leadsTotal: 0, leadsDone: 0, eventsDone: 0 };

  /** Each lead of `items` folded under `set`: null for a lead every event of which the version scored already. */
  function plan(
    items: readonly LiveLeadEvents[],
    set: RuleSet,
    metadata: Map<string, Record<string, unknown>> | null,
  ): Planned[] {
    const rules = ruleMatcher(set);
    return items.flatMap((item) => {
      const rematched: ScorableEvent[] = [];
      const events = item.events.map((event) => {
        if (event.rules_version === set.version) return event;
        const matchable = { event_type: event.event_type, metadata: metadata?.get(event.event_id) };
        const profile: LeadProfile | null = rules.usesLead ? item.profile : null;
        const again = withRescoredCandidates(event, rules.match(matchable, profile), set.version);
        rematched.push(again);
        return again;
      });
      if (rematched.length === 0) return [];
      const next = foldWholeHistory(
        events,
        cap,
        (entries, startTally) => contentPageId(item.leadId, entries, startTally),
        halfLife(),
      );
      return [{ item, next, rematched }];
    });
  }

  /**
   * Inserts the re-score log's records its commits wrote: a store that is away is tried again every second until it
   * takes them, or the run stops (its next run stores them: `storeLoggedBefore`).
   */
  async function storeRecords(docs: RescoreLogDocument[], signal: AbortSignal): Promise<void> {
    while (docs.length > 0) {
      try {
        await insertNew(rescoreLog, docs);
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        options.log.warn("re-score log records not stored yet; trying again", { error: (error as Error).message });
        await sleep(1_000, signal);
      }
    }
  }

  /**
   * The records a run that stopped between its commit and their insert left in the live log only: found for the leads
   * every event of which the version scored already (so not planned again), and, for every lead, those of the runs of
   * `older` versions that never ended (a newer publish superseded them before they ran again: `unstoredKey`), stored
   * now (an insert of one already stored changes nothing). A run from the start after runs that ended finds none: one
   * HGET per lead not planned.
   */
  async function storeLoggedBefore(
    keys: LiveKeys,
    items: readonly LiveLeadEvents[],
    planned: ReadonlySet<string>,
    version: number,
    older: readonly number[],
    signal: AbortSignal,
  ): Promise<void> {
    const asked = items.flatMap((item) =>
      [...(planned.has(item.leadId) ? [] : [version]), ...older].map((each) => ({ leadId: item.leadId, each })),
    );
    if (asked.length === 0) return;
    const pipeline = redis.pipeline();
    for (const { leadId, each } of asked) pipeline.hget(keys.rescoreLog(leadId), String(each));
    const replies = (await pipeline.exec()) ?? [];
    const docs = replies.flatMap(([error, wire], index) => {
      if (error) throw error;
      if (typeof wire !== "string") return [];
      const { leadId, each } = asked[index] as (typeof asked)[number];
      return [rescoreLogDocument(leadId, decodeRescoreRecord(String(each), wire))];
    });
    storeLater(docs, signal);
  }

  // The records the commits wrote, inserted into `rescore_log` off the commits' path: gathered while one insert is
  // under way, all of them in the next (one unordered insertMany), so a chunk never waits for the store unless
  // RECORDS_BEHIND of them are still to insert.
  let unstored: RescoreLogDocument[] = [];
  let storing: Promise<void> | null = null;
  let storeFailure: Error | null = null;
  function storeLater(docs: RescoreLogDocument[], signal: AbortSignal): void {
    unstored.push(...docs);
    if (storing !== null || unstored.length === 0) return;
    storing = (async () => {
      try {
        while (unstored.length > 0) {
          const batch = unstored;
          unstored = [];
          await storeRecords(batch, signal);
        }
      } catch (error) {
        storeFailure ??= error as Error;
        unstored = [];
      } finally {
        storing = null;
      }
    })();
  }
  /** Waits for the records gathered to be stored (all of them, or while more than `behind` are left). */
  async function recordsStored(behind = 0): Promise<void> {
    while (storing !== null && unstored.length >= behind) await storing;
    if (storeFailure !== null) {
      const failure = storeFailure;
      storeFailure = null;
      throw failure;
    }
  }

  /** Stores the candidates and the pages, commits; returns the ids of the leads to read again. */
  async function write(
    planned: Planned[],
    job: RescoreJob,
    progress: RescoreJob["progress"],
    { keys, generation }: RescoreLayout,
    signal: AbortSignal,
  ): Promise<string[]> {
    if (planned.length === 0) return [];
    const at = now();
    await insertNew(
      rescored,
      planned.map(({ item, rematched }) => ({
        _id: rescoredCandidatesId(job.version, item.leadId),
        version: job.version,
        lead_id: item.leadId,
        at: new Date(at),
        events: encodeRescoredEvents(rematched),
      })),
    );
    const newPages = planned.flatMap(({ item, next }) => {
      const kept = new Set(item.lead.pages.map((ref) => ref.id));
      return next.newPages
        .filter((page) => !kept.has(page.id))
        .map((page) => pageDocument(page.id, item.leadId, page.entries, new Date(at), page.startTally));
    });
    if (newPages.length > 0) await insertNew(pages, newPages);
    const updates: ScoreUpdate[] = [];
    const commits: RescoreCommit[] = planned.map(({ item, next }) => {
      const { lead } = item;
      const place = indexPlace(next, at, cap, thresholds, halfLife());
      const { fields } = liveFields(next, lead, lead.updatedAt, thresholds);
      if (fields.stage !== undefined) fields.stage = place.stage;
      const newest = next.tail.at(-1);
      const update = newest ? { ...scoreUpdateOf(lead.id, lead.score, next, [newest], thresholds) } : null;
      if (update) updates.push({ ...update, stage: place.stage });
      return {
        leadId: lead.id,
        expected: lead.version,
        fields,
        rankKey: place.rankKey,
        stage: place.stage,
        score: next.score,
        at,
        from: scoredBefore(item.events),
        messages: [],
      };
    });
    const messages = options.encodeUpdates(updates);
    for (const commit of commits) commit.messages = messages.get(commit.leadId) ?? [];
    await options.beforeCommit?.();
    const outcomes = await commitRescored(
      redis,
      keys,
      { gen: await generation(), version: job.version, send: job.webhooks === "send" },
      commits,
    );
    const again: string[] = [];
    const retired: string[] = [];
    const records: RescoreLogDocument[] = [];
    planned.forEach(({ item, next }, index) => {
      const outcome = outcomes[index];
      if (outcome?.outcome !== "committed") {
        again.push(item.leadId);
        const kept = new Set(item.lead.pages.map((ref) => ref.id));
        retired.push(...next.newPages.map((page) => page.id).filter((id) => !kept.has(id)));
        return;
      }
      retired.push(...superseded(item.lead.pages, next.pages ?? item.lead.pages));
      if (outcome.record !== null) records.push(rescoreLogDocument(item.leadId, outcome.record));
      if (next.score !== item.lead.score) progress.leads_changed += 1;
      if ((commits[index] as RescoreCommit).stage !== item.lead.stage) progress.stage_changes += 1;
    });
    storeLater(records, signal);
    await recordsStored(RECORDS_BEHIND);
    await retirePages(redis, keys, retired);
    const done = updates.filter((update) => !again.includes(update.lead_id));
    if (done.length > 0) await options.onCommitted?.(done);
    return again;
  }

  /** Waits while events wait in the queue beyond what live traffic needs, at most YIELD_MS: the batches go first. */
  async function yieldToBatches(signal: AbortSignal) {
    const backlogged = options.queueBacklogged;
    if (backlogged === undefined) return;
    for (let waited = 0; waited < YIELD_MS && !signal.aborted && (await backlogged()); waited += 20) {
      await sleep(20, signal);
    }
  }

  /** Re-scores the leads of `ids`, each in its partition, until each is committed or passed over; returns those still moving. */
  async function rescoreLeads(ids: readonly string[], pass: Pass): Promise<string[]> {
    const byPartition = new Map<number, string[]>();
    for (const id of ids) {
      const partition = leadPartition(id, layouts.length);
      byPartition.set(partition, [...(byPartition.get(partition) ?? []), id]);
    }
    const left: string[] = [];
    for (const [partition, partIds] of byPartition) {
      const layout = layouts[partition] as RescoreLayout;
      left.push(...(await rescoreIn(layout, partIds, pass)));
    }
    stats.leadsDone = pass.progress.leads_done;
    stats.eventsDone = pass.progress.events_done;
    return left;
  }

  /** Re-scores leads of one partition until each is committed or passed over; returns those still moving. */
  async function rescoreIn(layout: RescoreLayout, ids: readonly string[], pass: Pass): Promise<string[]> {
    const { set, job, progress, metadata, rounds, signal } = pass;
    let left = [...ids];
    for (let round = 0; round < rounds && left.length > 0; round += 1) {
      if (round > 0) await sleep(50 * round);
      // An idle lead is given back what it shed before it is re-folded and committed (live/src/idle.ts).
      const items = await readLiveLeads(redis, db, layout.keys, left, { cap, thresholds, restoreIdle: true });
      const planned = plan(items, set, metadata);
      const plannedIds = new Set(planned.map(({ item }) => item.leadId));
      await storeLoggedBefore(layout.keys, items, plannedIds, job.version, pass.older, signal);
      const again = new Set(await write(planned, job, progress, layout, signal));
      for (const item of items) {
        if (again.has(item.leadId)) continue;
        progress.leads_done += 1;
        progress.events_done += item.events.length;
      }
      // A lead with no live state left (merged away meanwhile) is done too.
      const read = new Set(items.map((item) => item.leadId));
      progress.leads_done += left.filter((id) => !read.has(id)).length;
      left = [...again];
    }
    return left;
  }

  /** Runs one job to its end; `report` writes the progress and answers whether a newer publish superseded it. */
  async function run(job: RescoreJob, signal: AbortSignal, report: (fields: RescoreFields) => Promise<boolean>) {
    const stored = await readRuleSetVersion(db, job.version);
    if (stored === null) throw new Error(`no rule set version ${job.version}`);
    const set = stored.set;
    await batchesBeforeLeft(redis, options.prefix, signal, now);
    // Events of batches that died before their commit, stored under an older version (rescore-journal.ts).
    const handed = await rematchUnfinishedBatches({
      db,
      redis,
      layouts,
      version: job.version,
      before: now(),
      rematchMissed,
      signal,
      cap,
      thresholds,
    });
    if (handed.length > 0) options.log.info("re-score: unfinished batches' leads to rescan", { leads: handed.length });
    const unstoredVersions = unstoredKey(options.prefix);
    await redis.sadd(unstoredVersions, job.version);
    const older = (await redis.smembers(unstoredVersions)).map(Number).filter((each) => each !== job.version);
    try {
      const progress = await runPasses(job, set, older, signal, report);
      await recordsStored();
      await redis.srem(unstoredVersions, job.version, ...older);
      return progress;
    } finally {
      // A run that stops stores what it can of what it gathered; the rest is stored by the next run.
      await recordsStored().catch(() => undefined);
    }
  }

  /** Every lead under `set`, to the end. */
  async function runPasses(
    job: RescoreJob,
    set: RuleSet,
    older: readonly number[],
    signal: AbortSignal,
    report: (fields: RescoreFields) => Promise<boolean>,
  ) {
    const listed = await Promise.all(layouts.map((layout) => leadsWithEvents(redis, layout.keys, signal, 500)));
    const ids = listed.flatMap((part) => part.ids);
    const events = listed.reduce((sum, part) => sum + part.events, 0);
    const progress: RescoreJob["progress"] = {
      leads_total: ids.length,
      events_total: events,
      leads_done: 0,
      events_done: 0,
      leads_changed: 0,
      stage_changes: 0,
    };
    Object.assign(stats, { running: true, version: job.version, leadsTotal: ids.length, leadsDone: 0, eventsDone: 0 });
    let last = 0;
    const tick = async (force = false) => {
      if (!force && now() - last < (options.progressMs ?? 1_000)) return;
      last = now();
      if (await report({ ...progress, updated_at: last })) throw new Superseded("a newer publish replaced it");
    };
    await tick(true);
    const waiting: string[] = [];
    if (readsMetadata(set)) {
      // Every stored event once, with its metadata; the leads' live state is read chunk by chunk beside it.
      let leads: string[] = [];
      let metadata = new Map<string, Record<string, unknown>>();
      const flush = async () => {
        waiting.push(...(await rescoreLeads(leads, { set, job, progress, metadata, older, rounds: ROUNDS, signal })));
        leads = [];
        metadata = new Map();
        await tick();
        await yieldToBatches(signal);
      };
      for await (const lead of streamLeadEvents(db, { metadata: true, signal, tmpDir: options.tmpDir })) {
        leads.push(lead.leadId);
        for (const event of lead.events) if (event.metadata) metadata.set(event.event_id, event.metadata);
        if (leads.length >= chunk) await flush();
      }
      await flush();
    } else {
      for (let from = 0; from < ids.length; from += chunk) {
        signal.throwIfAborted();
        waiting.push(
          ...(await rescoreLeads(ids.slice(from, from + chunk), {
            set,
            job,
            progress,
            metadata: null,
            older,
            rounds: ROUNDS,
            signal,
          })),
        );
        await tick();
        await yieldToBatches(signal);
      }
    }
    // Leads that kept moving, or that the deep lane held: until each is committed.
    for (let left = waiting; left.length > 0; ) {
      signal.throwIfAborted();
      await sleep(200, signal);
      left = await rescoreLeads(left, { set, job, progress, metadata: null, older, rounds: 1, signal });
      await tick();
    }
    await tick(true);
    return progress;
  }

  return { stats, run };
}

export type Rescorer = ReturnType<typeof createRescorer>;

export interface RescoreRunner {
  start(): void;
  stop(): Promise<void>;
  readonly stats: RescoreStats;
}

/**
 * Looks for the current re-score every `pollMs` and runs it when it is queued, or running with no worker holding it
 * (its worker died: the job starts again, passing over the leads already re-scored).
 */
export function createRescoreRunner(options: RescoreOptions & { pollMs?: number }): RescoreRunner {
  const { redis, prefix, log } = options;
  const now = options.now ?? Date.now;
  const rescorer = createRescorer(options);

  const poll = async (shutdown: AbortSignal) => {
    const job = await readCurrentRescore(redis, prefix);
    if (job === null || (job.state !== "queued" && job.state !== "running")) return;
    const lock = createLock({ redis, key: rescoreRunLockKey(prefix), ttlMs: LOCK_MS });
    if ((await lock.acquire()) === null) return;
    try {
      await updateRescore(redis, prefix, job.id, { state: "running", started_at: now(), updated_at: now() });
      const report = async (fields: RescoreFields) => {
        await lock.check();
        await updateRescore(redis, prefix, job.id, fields);
        return (await redis.get(currentRescoreKey(prefix))) !== job.id;
      };
      const progress = await lock.keepAlive((signal) => rescorer.run(job, AbortSignal.any([signal, shutdown]), report));
      await updateRescore(redis, prefix, job.id, { state: "done", finished_at: now(), updated_at: now() });
      log.info("re-score done", { id: job.id, version: job.version, ...progress });
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error));
      if (reason instanceof Superseded) {
        await updateRescore(redis, prefix, job.id, { state: "superseded", finished_at: now(), updated_at: now() });
      } else if (!shutdown.aborted && !(reason instanceof StaleLiveStateError)) {
        await updateRescore(redis, prefix, job.id, {
          state: "failed",
          error: reason.message,
          finished_at: now(),
          updated_at: now(),
        });
        log[reason instanceof LockLostError ? "warn" : "error"]("re-score failed", {
          id: job.id,
          error: reason.message,
        });
      }
      // Stopped by a shutdown or a rebuild: the job stays running, and the next worker to find it free takes it.
    } finally {
      rescorer.stats.running = false;
      await lock.release().catch(() => false);
    }
  };
  return {
    ...createPoller(poll, { pollMs: options.pollMs ?? 1_000, log, what: "re-score" }),
    stats: rescorer.stats,
  };
}
