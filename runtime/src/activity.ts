// Events accepted, scored and refused by the store over the last 24 hours, for `GET /api/stats`: one Redis counter
// per 5-minute bucket, added to once per queued or finished job, or per batch with dead letters (not per event) and
// expiring after a day, so the window is read with one MGET of 289 keys whatever the traffic.
import { redisScript, type ScriptClient } from "./scripts.ts";

export type ActivityKind = "accepted" | "scored" | "dead_lettered";

export const ACTIVITY_BUCKET_MS = 5 * 60 * 1000;
export const ACTIVITY_WINDOW_MS = 24 * 60 * 60 * 1000;
/** A bucket outlives the window by one bucket, so the oldest one read is never gone early. */
const ACTIVITY_TTL_SECONDS = (ACTIVITY_WINDOW_MS + 2 * ACTIVITY_BUCKET_MS) / 1000;

export function activityKey(prefix: string, kind: ActivityKind, bucket: number): string {
  return `${prefix}:activity:${kind}:${bucket}`;
}

/** The keys of the buckets that make up the window ending at `now` (the current bucket included). */
export function activityWindowKeys(prefix: string, kind: ActivityKind, now: number): string[] {
  const last = Math.floor(now / ACTIVITY_BUCKET_MS);
  const first = Math.floor((now - ACTIVITY_WINDOW_MS) / ACTIVITY_BUCKET_MS);
  const keys: string[] = [];
  for (let bucket = first; bucket <= last; bucket++) keys.push(activityKey(prefix, kind, bucket));
  return keys;
}

const COUNT_ACTIVITY = redisScript<null>(new URL("./lua/count-activity-1.lua", import.meta.url));

/** Adds `count` to the current bucket: one script call. */
export function countActivity(
  redis: ScriptClient,
  prefix: string,
  kind: ActivityKind,
  count: number,
  now: number,
): Promise<unknown> {
  const key = activityKey(prefix, kind, Math.floor(now / ACTIVITY_BUCKET_MS));
  return COUNT_ACTIVITY.run(redis, [key], [count, ACTIVITY_TTL_SECONDS]);
}
