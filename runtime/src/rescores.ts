// Re-scores of every lead after a retroactive publish, as the edge queues them and a worker runs them. The record
// (`<prefix>:rescore:job:<id>`, a hash, kept a week) names the version published and what to do about webhooks, and
// holds the progress; `<prefix>:rescore:current` names the newest job, the one a worker runs and the dashboard shows.
// A newer publish replaces it: the job running notices at its next chunk and stops (`superseded`), since the newer
// version re-scores every lead anyway. One worker runs the current job at a time, under its own lock kept alive
// while it runs; a worker that dies frees it within the lock's time to live and the next takes the job again from
// the start (a lead already re-scored with the version is passed over).
import type { Redis } from "ioredis";

const RECORD_TTL_SECONDS = 7 * 24 * 3600;

export const RESCORE_STATES = ["queued", "running", "done", "superseded", "failed"] as const;
export type RescoreState = (typeof RESCORE_STATES)[number];

export function rescoreJobKey(prefix: string, id: string): string {
  return `${prefix}:rescore:job:${id}`;
}

export function currentRescoreKey(prefix: string): string {
  return `${prefix}:rescore:current`;
}

/**
 * The newest version published retroactively: every batch a worker matches reads it in the same atomic step that
 * files the batch under `rescoreBatchesKey` (worker/src/rules-fence.ts), and matches under that version or a newer one.
 */
export function rescoreVersionKey(prefix: string): string {
  return `${prefix}:rescore:version`;
}

/** The batches being matched, stored and committed now: a sorted set of ids by when each began (ms). */
export function rescoreBatchesKey(prefix: string): string {
  return `${prefix}:rescore:batches`;
}

/** Held by the worker running the current re-score. */
export function rescoreRunLockKey(prefix: string): string {
  return `${prefix}:rescore:run-lock`;
}

export interface RescoreProgress {
  /** Leads with live state when the job started, and the events they held. */
  leads_total: number;
  events_total: number;
  leads_done: number;
  events_done: number;
  /** Leads whose score, and whose stage, the re-score changed. */
  leads_changed: number;
  stage_changes: number;
}

export interface RescoreJob {
  id: string;
  version: number;
  webhooks: "suppress" | "send";
  state: RescoreState;
  created_at: number;
  started_at: number | null;
  updated_at: number | null;
  finished_at: number | null;
  progress: RescoreProgress;
  error: string | null;
}

export type RescoreFields = Partial<Record<"state" | "error", string>> &
  Partial<Record<"started_at" | "updated_at" | "finished_at" | keyof RescoreProgress, number>>;

const numberOr = (text: string | undefined, fallback: number | null) =>
  text === undefined || text === "" ? fallback : Number(text);

function decode(fields: Record<string, string>): RescoreJob | null {
  if (fields.id === undefined) return null;
  return {
    id: fields.id,
    version: Number(fields.version ?? 0),
    webhooks: fields.webhooks === "send" ? "send" : "suppress",
    state: fields.state as RescoreState,
    created_at: Number(fields.created_at ?? 0),
    started_at: numberOr(fields.started_at, null),
    updated_at: numberOr(fields.updated_at, null),
    finished_at: numberOr(fields.finished_at, null),
    progress: {
      leads_total: Number(fields.leads_total ?? 0),
      events_total: Number(fields.events_total ?? 0),
      leads_done: Number(fields.leads_done ?? 0),
      events_done: Number(fields.events_done ?? 0),
      leads_changed: Number(fields.leads_changed ?? 0),
      stage_changes: Number(fields.stage_changes ?? 0),
    },
    error: fields.error ?? null,
  };
}

export async function readRescore(redis: Redis, prefix: string, id: string): Promise<RescoreJob | null> {
  return decode(await redis.hgetall(rescoreJobKey(prefix, id)));
}

/** The newest re-score (running or not), or null when there never was one (or its record expired). */
export async function readCurrentRescore(redis: Redis, prefix: string): Promise<RescoreJob | null> {
  const id = await redis.get(currentRescoreKey(prefix));
  return id === null ? null : readRescore(redis, prefix, id);
}

/**
 * Queues the re-score of every lead with `version`, which becomes the current one; from this step on every batch is
 * matched under `version` (or a newer one).
 */
export async function startRescore(
  redis: Redis,
  prefix: string,
  job: { version: number; webhooks: "suppress" | "send" },
  now: number,
): Promise<RescoreJob> {
  const id = crypto.randomUUID();
  const key = rescoreJobKey(prefix, id);
  await redis
    .multi()
    .hset(key, { id, version: job.version, webhooks: job.webhooks, state: "queued", created_at: now })
    .expire(key, RECORD_TTL_SECONDS)
    .set(currentRescoreKey(prefix), id)
    .set(rescoreVersionKey(prefix), job.version)
    .exec();
  return (await readRescore(redis, prefix, id)) as RescoreJob;
}

export async function updateRescore(redis: Redis, prefix: string, id: string, fields: RescoreFields): Promise<void> {
  await redis.hset(rescoreJobKey(prefix, id), fields as Record<string, string | number>);
}
