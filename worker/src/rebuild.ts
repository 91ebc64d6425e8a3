// The live state is a function of MongoDB: the stored events (with their points) fold into every lead's score and
// history, the profiles into its name, email and company. `rebuildLiveState` recomputes it; `ensureLiveState` runs it
// when the live state is missing (a wiped Redis, deleted live keys) or may have lost writes (Redis restarted: its run
// id changed since the live state was built, so the last second of an `appendfsync everysec` log may be gone).
//
// While it runs, the generation key says "rebuilding" and every commit is refused as stale, so workers wait and then
// plan their batches again against the rebuilt state (events stored meanwhile are placed as usual: an event the
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
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type HistoryPageDocument,
  type LeadDocument,
  type ProfileEditDocument,
  type ScorableEvent,
  type StageThresholds,
  stageFor,
  toScorable,
} from "@leadscore/contracts";
import {
  encodeLeadHash,
  generationIsCurrent,
  type LeadHash,
  type LiveKeys,
  newPageId,
  pageDocument,
  pageRef,
  REBUILDING,
  rankKey,
  redisRunId,
  stateFields,
} from "@leadscore/live";
import { createLock, LockLostError, type Logger } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { layoutHistory, markLate } from "./plan.ts";
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
}

/** A held lock as a task under it sees it. */
export interface HeldLock {
  check(): Promise<void>;
  signal: AbortSignal;
}

export interface RebuildResult {
  generation: string;
  leads: number;
  events: number;
  pages: number;
  ms: number;
}

const LOCK_MS = 60_000;
const WRITE_CHUNK = 500;

async function deleteLiveKeys(redis: Redis, keys: LiveKeys): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  const keep = new Set([keys.gen, keys.rebuildLock]);
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", keys.pattern, "COUNT", 1000);
    cursor = next;
    const doomed = found.filter((key) => !keep.has(key));
    if (doomed.length > 0) deleted += await redis.unlink(...doomed);
  } while (cursor !== "0");
  return deleted;
}

export async function rebuildLiveState(options: RebuildOptions): Promise<RebuildResult> {
  const { db, redis, keys, cap, thresholds, log } = options;
  const now = options.now ?? Date.now;
  const started = performance.now();
  const check = async () => options.lock?.check();
  const signal = options.lock?.signal;
  await check();
  await redis.set(keys.gen, `${REBUILDING}${randomUUID()}`);
  await deleteLiveKeys(redis, keys);

  const byLead = new Map<string, ScorableEvent[]>();
  let eventCount = 0;
  const cursor = db
    .collection<EventDocument>(COLLECTIONS.events)
    .find({}, { projection: { metadata: 0 }, batchSize: 10_000, signal });
  for await (const doc of cursor) {
    const list = byLead.get(doc.lead_id) ?? [];
    list.push(toScorable(doc));
    byLead.set(doc.lead_id, list);
    eventCount += 1;
  }
  const profiles = new Map<string, LeadDocument>();
  for await (const doc of db.collection<LeadDocument>(COLLECTIONS.leads).find({}, { batchSize: 10_000, signal })) {
    profiles.set(doc._id, doc);
  }
  // Edits are inserted, never applied in place: a lead's profile is the newest of its document and its edits.
  const edits = new Map<string, ProfileEditDocument>();
  for await (const edit of db
    .collection<ProfileEditDocument>(COLLECTIONS.profileEdits)
    .find({}, { batchSize: 10_000, signal })) {
    const known = edits.get(edit.lead_id) ?? profiles.get(edit.lead_id);
    const knownAt = known === undefined ? null : "at" in known ? known.at : known.created_at;
    if (knownAt === null || new Date(edit.at).getTime() >= new Date(knownAt).getTime()) edits.set(edit.lead_id, edit);
  }

  const at = now();
  const written = new Date(at);
  const ids = [...new Set([...byLead.keys(), ...profiles.keys()])];
  let pageCount = 0;
  for (let from = 0; from < ids.length; from += WRITE_CHUNK) {
    const pipeline = redis.pipeline();
    const pageDocs: HistoryPageDocument[] = [];
    for (const id of ids.slice(from, from + WRITE_CHUNK)) {
      const entries = markLate(foldScores(byLead.get(id) ?? [], cap, 0).history);
      const layout = layoutHistory(entries);
      const pageRefs = layout.pages.map((entriesOfPage) => {
        const pageId = newPageId(id);
        pageDocs.push(pageDocument(pageId, id, entriesOfPage, written));
        return pageRef(pageId, entriesOfPage);
      });
      const last = entries.at(-1);
      const score = last?.score ?? 0;
      const reachedAt = last ? last.score_reached_at : null;
      const profile = profiles.get(id);
      const createdAt = profile?.created_at
        ? new Date(profile.created_at).getTime()
        : entries.reduce((earliest, entry) => Math.min(earliest, entry.received_at), at);
      const stage = stageFor(score, thresholds);
      const fields: LeadHash = {
        ...stateFields({
          score,
          stage,
          count: last?.seq ?? 0,
          lastKey: last?.sort_key ?? null,
          reachedAt,
          lastEventAt: last?.timestamp ?? null,
          createdAt,
          updatedAt: at,
          tail: layout.tail,
          base: layout.base,
          pages: pageRefs,
        }),
        version: "1",
      };
      const current = edits.get(id) ?? profile;
      for (const field of ["name", "email", "company"] as const) {
        const value = current?.[field];
        if (value) fields[field] = value;
      }
      pipeline.hset(keys.lead(id), encodeLeadHash(fields));
      pipeline.zadd(keys.byScore, rankKey(score, reachedAt, cap), id);
      pipeline.zadd(keys.byUpdated, at, id);
      pipeline.zadd(keys.byUpdatedIn(stage), at, id);
    }
    await check();
    if (pageDocs.length > 0) {
      await insertNew(db.collection<HistoryPageDocument>(COLLECTIONS.historyPages), pageDocs);
      pageCount += pageDocs.length;
    }
    await check();
    const replies = (await pipeline.exec()) ?? [];
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
  }
  const generation = `${await redisRunId(redis)}:${randomUUID()}`;
  await check();
  await redis.set(keys.gen, generation);
  const result = {
    generation,
    leads: ids.length,
    events: eventCount,
    pages: pageCount,
    ms: performance.now() - started,
  };
  log.info("live state rebuilt", { ...result, ms: Math.round(result.ms) });
  return result;
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
  return lock.withLock((signal) => task({ check: () => lock.check(), signal }));
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
        return (await rebuildLiveState({ ...options, lock })).generation;
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
