// Where the live state sits in Redis. Every key starts with `<prefix>:live:`, so "the live keys" are one pattern:
// deleting them all loses no score (the worker rebuilds them from MongoDB), deleting some of them is not supported.
//
// A lead's own keys (its hash, its deep-lane list) carry its id as a hash tag (`{id}`), so on Redis Cluster they
// always share a slot. The commit script also touches the global keys (generation, sorted sets, deep-lane hash), so
// on a Cluster the deployment's REDIS_PREFIX must itself be hash-tagged (`{leadscore}`), as Bull requires for its
// queue keys anyway: Redis hashes the first tag, so every key of the deployment lands in one slot and each commit
// stays one atomic call; the indexes can never disagree with the leads. That bounds one deployment by one shard.
// Spreading leads over shards would take the prefix tag off the live keys and commit in two calls per chunk — the
// lead keys in their slots, then the index entries — both idempotent (HSET of the absolute state, ZADD of the
// absolute value), with `npm run rebuild -- --check` to find an index left behind by a crash between the two; that
// variant is not built.
//
// One exception to `<prefix>:live:`: the webhook outbox (`outbox`), which the commit script appends to. It sits under
// `<prefix>:webhooks:` because it is not a function of MongoDB: a wipe or rebuild of the live state must not drop a
// message a commit recorded.
import { STAGES, type Stage } from "@leadscore/contracts";
import { movementKey } from "./movements.ts";

export interface LiveKeys {
  /** Generation of the live state: `<redis run id>:<random>`; commits name the generation they read. */
  gen: string;
  /** Leaderboard order: sorted by `rankKey` (score descending, then who reached it first), ties by id. */
  byScore: string;
  /** Leads by `updated_at` (epoch ms). */
  byUpdated: string;
  /** Leads of one stage by `updated_at`, for `stage=… & sort=updated_at`. */
  byUpdatedIn(stage: Stage): string;
  /** Leads by their newest event's time (`last_event_at`, epoch ms; 0 for a lead no event has reached). */
  byLastEvent: string;
  /** Leads of one stage by `last_event_at`, for `stage=… & sort=last_event_at`. */
  byLastEventIn(stage: Stage): string;
  /**
   * Every profiled lead's search text (hash: id → text; see search-index.ts), which `company`/`q` searches scan
   * instead of MongoDB's profiles.
   */
  searchTexts: string;
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
  /**
   * The identity map (identity.ts): merged id → the root lead it resolves to, always one hop (path compression at
   * write time). Laid out again by a rebuild from MongoDB's `identities`.
   */
  aliases: string;
  /** The ids that resolve to a root (a set), so a later merge of the root can point them on. */
  aliasesOf(root: string): string;
  /** What was merged into a root (a hash: merged id → how many events it brought), for the lead page. */
  mergedFrom(root: string): string;
  /**
   * Each merge into a root (a hash: merged id → its record, `MergeRecord` JSON), for the merge entries of the root's
   * history: when it committed, what it brought and the scores either side of it.
   */
  mergeLog(root: string): string;
  /**
   * Merged leads handed to their root's partition and not yet taken there (a hash: merged id → the hand-off, JSON;
   * `#<id>` → the number of its last hand-off). Only merges across lead partitions use it (identity.ts).
   */
  handOff: string;
  /** In a root's partition: merged id → the number of the last hand-off taken from the merged id's partition. */
  handedIn: string;
  /**
   * Each retroactive re-score that moved a lead (a hash: version → its record, `RescoreRecord` JSON), for the
   * re-score entries of its history: when it committed, the version before, the score and stage either side.
   */
  rescoreLog(leadId: string): string;
  /** Held by the one process rebuilding the live state. */
  rebuildLock: string;
  /** Held by the one worker committing the stage changes decay causes (worker/src/decay-ticker.ts). */
  decayLock: string;
  /** The instant (epoch ms) up to which the stage changes decay causes are committed. */
  decayThrough: string;
  /** The `updated_at` (epoch ms) up to which idle leads have been shrunk (idle.ts). */
  idleThrough: string;
  /** `SCAN MATCH` pattern of every live key. */
  pattern: string;
  /** The same keys under `<prefix>:live-next:`, where a rebuild lays out the next generation (next-generation.ts). */
  next(): LiveKeys;
  /** Where commits record webhook messages (not live keys: see above). */
  outbox: OutboxKeys;
  /** The stream of leads that entered `stage` (not live keys either: see movements.ts). */
  movedInto(stage: Stage): string;
  /**
   * The batch journal's marks (worker/src/journal.ts): not live keys, since they say which stored batches the live
   * state holds, whichever generation it is.
   */
  journal: JournalKeys;
  /**
   * Sorted set of history page ids no longer referenced (superseded by a refold, a lost compare-and-set or a
   * rebuild), by when: deleted after a grace (worker/src/page-garbage.ts). Not a live key: a rebuild adds to it.
   */
  retiredPages: string;
  /**
   * Hash of history pages written for a commit and not yet released, id → document (worker/src/page-garbage.ts): a
   * page a commit names is here or in MongoDB, so a reader finds it either way and the sweep never loses it.
   */
  pendingPages: string;
  /** Sorted set of the history pages the sweep is deleting, by when it claimed them (worker/src/page-garbage.ts). */
  deletingPages: string;
}

/** Which journaled batches the live state holds: a sorted set of the batches committed, by when, and the floor. */
export interface JournalKeys {
  /** Sorted set: batch id → when its last commit returned (ms). */
  done: string;
  /** Journal entries older than this (ms) are held by the live state (a rebuild read them): no catch-up needs them. */
  floor: string;
}

/** The webhook outbox: the stream commits append messages to, and which messages active subscriptions want. */
export interface OutboxKeys {
  /** Stream of messages (see OutboxMessage in outbox.ts). */
  stream: string;
  /** The message kinds some active subscription wants, one letter each (see OUTBOX_KIND_LETTERS); absent: none. */
  wants: string;
}

export function outboxKeys(redisPrefix: string): OutboxKeys {
  return { stream: `${redisPrefix}:webhooks:outbox`, wants: `${redisPrefix}:webhooks:wants` };
}

export function liveKeys(redisPrefix: string, area = "live"): LiveKeys {
  const base = `${redisPrefix}:${area}`;
  return {
    gen: `${base}:gen`,
    byScore: `${base}:idx:score`,
    byUpdated: `${base}:idx:updated`,
    byUpdatedIn: (stage) => `${base}:idx:updated:${stage}`,
    byLastEvent: `${base}:idx:last-event`,
    byLastEventIn: (stage) => `${base}:idx:last-event:${stage}`,
    searchTexts: `${base}:idx:search`,
    lead: (leadId) => `${base}:lead:{${leadId}}`,
    deep: `${base}:deep`,
    deepEvents: (leadId) => `${base}:deep-events:{${leadId}}`,
    deepLock: `${base}:deep-lock`,
    aliases: `${base}:alias`,
    aliasesOf: (root) => `${base}:aliases:{${root}}`,
    mergedFrom: (root) => `${base}:merged-from:{${root}}`,
    mergeLog: (root) => `${base}:merge-log:{${root}}`,
    handOff: `${base}:hand-off`,
    handedIn: `${base}:handed-in`,
    rescoreLog: (leadId) => `${base}:rescore-log:{${leadId}}`,
    rebuildLock: `${base}:rebuild-lock`,
    decayLock: `${base}:decay-lock`,
    decayThrough: `${base}:decay-through`,
    idleThrough: `${base}:idle-through`,
    pattern: `${base}:*`,
    next: () => liveKeys(redisPrefix, "live-next"),
    outbox: outboxKeys(redisPrefix),
    movedInto: (stage) => movementKey(redisPrefix, stage),
    journal: { done: `${redisPrefix}:journal:done`, floor: `${redisPrefix}:journal:floor` },
    retiredPages: `${redisPrefix}:pages:retired`,
    pendingPages: `${redisPrefix}:pages:pending`,
    deletingPages: `${redisPrefix}:pages:deleting`,
  };
}

/**
 * The index keys a commit touches, in the order the commit script expects them after the generation key: then the
 * latest-activity index of each stage, then the movement streams, one per stage in the same order.
 */
export function indexKeys(keys: LiveKeys): string[] {
  return [
    keys.byScore,
    keys.byUpdated,
    keys.deep,
    ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
    ...STAGES.map((stage) => keys.byLastEventIn(stage)),
    ...STAGES.map((stage) => keys.movedInto(stage)),
  ];
}

/**
 * The activity indexes, global then each stage's (`updated_at` ones, then `last_event_at` ones, in STAGES' order):
 * what `lua/includes/stage-indexes.lua` reads after the global two.
 */
export function activityKeys(
  keys: Pick<LiveKeys, "byUpdated" | "byLastEvent" | "byUpdatedIn" | "byLastEventIn">,
): string[] {
  return [
    keys.byUpdated,
    keys.byLastEvent,
    ...STAGES.map((stage) => keys.byUpdatedIn(stage)),
    ...STAGES.map((stage) => keys.byLastEventIn(stage)),
  ];
}

/**
 * The keys a move between stages and its outbox message take (`lua/includes/stage-indexes.lua` and
 * `includes/outbox.lua`), in the order the decay-crossing and re-score scripts expect them: the activity indexes, each
 * stage's two, then the outbox stream and its wants.
 */
export function stageMoveKeys(keys: LiveKeys): string[] {
  return [...activityKeys(keys), keys.outbox.stream, keys.outbox.wants];
}
