// Where the live state sits in Redis. Every key starts with `<prefix>:live:`, so "the live keys" are one pattern:
// deleting them all loses no score (the worker rebuilds them from MongoDB), deleting some of them is not supported.
//
// A lead's own keys carry its id as a hash tag (`{id}`), so on Redis Cluster they share a slot and one script call
// can commit them. The global indexes (the sorted sets, the generation and the deep-lane hash) each live in one slot
// of their own; there a commit runs as two calls per lead chunk — the lead keys, then the index entries, both
// idempotent (ZADD of the absolute value, HSET of the absolute state) — and `npm run rebuild` (or the worker's
// start-up check) repairs an index left behind by a crash between the two. On a single Redis, which is what
// `npm start` and the tests run, both are one atomic call.
import { STAGES, type Stage } from "@leadscore/contracts";

export interface LiveKeys {
  /** Generation of the live state: `<redis run id>:<random>`; commits name the generation they read. */
  gen: string;
  /** Leaderboard order: sorted by `rankKey` (score descending, then who reached it first), ties by id. */
  byScore: string;
  /** Leads by `updated_at` (epoch ms). */
  byUpdated: string;
  /** Leads of one stage by `updated_at`, for `stage=… & sort=updated_at`. */
  byUpdatedIn(stage: Stage): string;
  /** One hash per lead: fold state, profile, tail of history (see codec.ts). */
  lead(leadId: string): string;
  /**
   * Leads the deep lane owns: id → how many times a rescan of the lead's stored events was asked for. While a lead
   * is here, commits put its events on `deepEvents` instead of folding them.
   */
  deep: string;
  /** Events waiting for the deep lane, in arrival order (compact scorable events). */
  deepEvents(leadId: string): string;
  /** Held by the one process running the deep lane. */
  deepLock: string;
  /** Held by the one process rebuilding the live state. */
  rebuildLock: string;
  /** `SCAN MATCH` pattern of every live key. */
  pattern: string;
}

export function liveKeys(redisPrefix: string): LiveKeys {
  const base = `${redisPrefix}:live`;
  return {
    gen: `${base}:gen`,
    byScore: `${base}:idx:score`,
    byUpdated: `${base}:idx:updated`,
    byUpdatedIn: (stage) => `${base}:idx:updated:${stage}`,
    lead: (leadId) => `${base}:lead:{${leadId}}`,
    deep: `${base}:deep`,
    deepEvents: (leadId) => `${base}:deep-events:{${leadId}}`,
    deepLock: `${base}:deep-lock`,
    rebuildLock: `${base}:rebuild-lock`,
    pattern: `${base}:*`,
  };
}

/** The index keys a commit touches, in the order the commit script expects them after the generation key. */
export function indexKeys(keys: LiveKeys): string[] {
  return [keys.byScore, keys.byUpdated, keys.deep, ...STAGES.map((stage) => keys.byUpdatedIn(stage))];
}
