// Previews of a draft rule set, as the edge starts them and a worker runs them. One runs at a time per deployment:
// the edge takes the re-score lock (runtime/src/lock.ts) with the preview's id as its token and queues the id; the
// worker that takes the id from the queue extends that same lock (the token is the id) and keeps it alive while it
// runs, so a second preview is refused (409) until this one ends, and a worker that dies frees it within the lock's
// time to live. A preview no worker took before its lock expired is failed by the worker that finds it later.
//
// The record (`<prefix>:rescore:preview:<id>`, a hash, kept a week) holds the draft as it was when the preview
// started, its progress and, once done, its result; `DELETE` sets `cancel`, which the running worker reads with its
// progress.
import type { Redis } from "ioredis";
import { createLock, type Lock } from "./lock.ts";

/** How long a queued preview holds the lock before a worker takes it. */
export const QUEUED_PREVIEW_TTL_MS = 60_000;
/** How long a running preview's lock outlives its worker's last extension. */
export const RUNNING_PREVIEW_TTL_MS = 30_000;
const RECORD_TTL_SECONDS = 7 * 24 * 3600;

export const PREVIEW_STATES = ["queued", "running", "done", "cancelled", "failed"] as const;
export type PreviewState = (typeof PREVIEW_STATES)[number];
export const PREVIEW_PHASES = ["reading", "folding"] as const;
export type PreviewPhase = (typeof PREVIEW_PHASES)[number];

export function rescoreLockKey(prefix: string): string {
  return `${prefix}:rescore:lock`;
}

export function previewQueueKey(prefix: string): string {
  return `${prefix}:rescore:previews`;
}

export function previewKey(prefix: string, id: string): string {
  return `${prefix}:rescore:preview:${id}`;
}

/** A preview's progress: events read from the store, then leads and events folded (twice: as stored and as drafted). */
export interface PreviewProgress {
  phase: PreviewPhase;
  /** The events the live state has scored when the preview started (for a draft reading metadata: the count read). */
  events_total: number;
  events_read: number;
  events_done: number;
  leads_done: number;
}

export interface PreviewRecord {
  id: string;
  state: PreviewState;
  /** The draft previewed: `{ rules, groups, half_life_seconds? }` as JSON text. */
  draft: string;
  based_on: number;
  created_at: number;
  started_at: number | null;
  updated_at: number | null;
  finished_at: number | null;
  progress: PreviewProgress;
  /** The result as JSON text, once done. */
  result: string | null;
  error: string | null;
  cancel: boolean;
}

const numberOr = (text: string | undefined, fallback: number | null) =>
  text === undefined || text === "" ? fallback : Number(text);

function decode(fields: Record<string, string>): PreviewRecord | null {
  if (fields.id === undefined) return null;
  return {
    id: fields.id,
    state: fields.state as PreviewState,
    draft: fields.draft ?? "{}",
    based_on: Number(fields.based_on ?? 0),
    created_at: Number(fields.created_at ?? 0),
    started_at: numberOr(fields.started_at, null),
    updated_at: numberOr(fields.updated_at, null),
    finished_at: numberOr(fields.finished_at, null),
    progress: {
      phase: (fields.phase as PreviewPhase | undefined) ?? "reading",
      events_total: Number(fields.events_total ?? 0),
      events_read: Number(fields.events_read ?? 0),
      events_done: Number(fields.events_done ?? 0),
      leads_done: Number(fields.leads_done ?? 0),
    },
    result: fields.result ?? null,
    error: fields.error ?? null,
    cancel: fields.cancel === "1",
  };
}

export async function readPreview(redis: Redis, prefix: string, id: string): Promise<PreviewRecord | null> {
  return decode(await redis.hgetall(previewKey(prefix, id)));
}

export type StartedPreview = { ok: true; id: string } | { ok: false; running: string | null };

/** Queues a preview of `draft` unless a preview or a re-score holds the lock (then: who holds it). */
export async function startPreview(
  redis: Redis,
  prefix: string,
  draft: { set: string; based_on: number },
  now: number,
): Promise<StartedPreview> {
  const id = crypto.randomUUID();
  const lock = createLock({ redis, key: rescoreLockKey(prefix), ttlMs: QUEUED_PREVIEW_TTL_MS, token: id });
  if ((await lock.acquire()) === null) return { ok: false, running: await redis.get(rescoreLockKey(prefix)) };
  const key = previewKey(prefix, id);
  await redis
    .multi()
    .hset(key, { id, state: "queued", draft: draft.set, based_on: draft.based_on, created_at: now })
    .expire(key, RECORD_TTL_SECONDS)
    .rpush(previewQueueKey(prefix), id)
    .exec();
  return { ok: true, id };
}

/** Asks a preview to stop: a queued one is cancelled at once (and frees the lock), a running one by its worker. */
export async function cancelPreview(
  redis: Redis,
  prefix: string,
  id: string,
  now: number,
): Promise<PreviewRecord | null> {
  const record = await readPreview(redis, prefix, id);
  if (record === null) return null;
  if (record.state !== "queued" && record.state !== "running") return record;
  await redis.hset(previewKey(prefix, id), { cancel: 1 });
  if (record.state === "queued") {
    await redis.lrem(previewQueueKey(prefix), 0, id);
    await updatePreview(redis, prefix, id, { state: "cancelled", finished_at: now });
    await createLock({ redis, key: rescoreLockKey(prefix), ttlMs: QUEUED_PREVIEW_TTL_MS, token: id }).release();
  }
  return readPreview(redis, prefix, id);
}

export type PreviewFields = Partial<Record<"state" | "phase" | "result" | "error", string>> &
  Partial<
    Record<
      "started_at" | "updated_at" | "finished_at" | "events_total" | "events_read" | "events_done" | "leads_done",
      number
    >
  >;

export async function updatePreview(redis: Redis, prefix: string, id: string, fields: PreviewFields): Promise<void> {
  await redis.hset(previewKey(prefix, id), fields as Record<string, string | number>);
}

/** The next queued preview, its lock taken over by the caller (held: keep it alive, release it when done). */
export interface TakenPreview {
  record: PreviewRecord;
  lock: Lock;
}

/**
 * Takes the oldest queued preview, or null. One whose lock expired before it was taken (no worker ran meanwhile) is
 * failed, and the next one is looked at.
 */
export async function takePreview(redis: Redis, prefix: string, now: () => number): Promise<TakenPreview | null> {
  for (;;) {
    const id = await redis.lpop(previewQueueKey(prefix));
    if (id === null) return null;
    const record = await readPreview(redis, prefix, id);
    if (record === null || record.state !== "queued") continue;
    const lock = createLock({ redis, key: rescoreLockKey(prefix), ttlMs: RUNNING_PREVIEW_TTL_MS, token: id });
    if (!(await lock.extend())) {
      await updatePreview(redis, prefix, id, {
        state: "failed",
        error: "no worker took the preview before its lock expired",
        finished_at: now(),
      });
      continue;
    }
    return { record, lock };
  }
}
