import { type DedupeSlot, type RedisScript, redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { createBatcher, withDeadline } from "./batcher.ts";

/**
 * What claiming an event id found: this request is the first (`CLAIMED`); the event was queued before (`SEEN`);
 * another request claimed it and has not queued it yet (`PENDING`); or Redis failed.
 */
export const CLAIMED = 1;
export const SEEN = 0;
export const PENDING = 2;
export const FAILED = -1;
export type Claim = typeof CLAIMED | typeof SEEN | typeof PENDING | typeof FAILED;

/**
 * Claims every id in one round trip: far cheaper for the edge than a pipeline of commands (one reply to parse
 * instead of one per event). A claim is made in two steps: pending here, and confirmed (CONFIRM_IDS) once the event
 * is in the queue. So an id whose claimer died before queueing it (the edge killed, Redis lost mid-request) is never
 * answered "duplicate": it reads as pending until the short time frees it, and the client's retry is queued then.
 * Each id is a field of a small bucket hash (`dedupeSlot`), about 20 bytes of Redis memory where a key per id took
 * 90 or more; marks carry their own expiry, and `createDedupeSweeper` removes expired ones. On Redis Cluster every key of a script must live in one slot: give REDIS_PREFIX a hash tag
 * (`{leadscore}`), as the Bull queue needs anyway.
 */
const CLAIM_IDS = redisScript<Claim[]>(new URL("./lua/claim-ids.lua", import.meta.url));
const CONFIRM_IDS = redisScript<number>(new URL("./lua/confirm-ids.lua", import.meta.url));
const RELEASE_IDS = redisScript<number>(new URL("./lua/release-ids.lua", import.meta.url));

export interface ClaimerOptions {
  redis: Redis;
  /** The de-duplication window, seconds. */
  ttlSeconds: number;
  /** How long a claim stays pending (answered neither "new" nor "duplicate") if its event is never queued. */
  pendingTtlSeconds?: number;
  /** Most keys sent in one script call (a request's keys always travel together). */
  maxKeys?: number;
  maxInflight?: number;
  /** A claim not answered within this time fails (503); keys it set after all are released when it answers. */
  deadlineMs?: number;
}

/**
 * The edge's de-duplication window: claims event ids in Redis, gathering the keys of concurrent requests into one
 * script call (see `createBatcher`), and releases them when the events could not be queued.
 */
export function createClaimer(options: ClaimerOptions) {
  const { redis } = options;
  const deadlineMs = options.deadlineMs ?? 2000;
  // Never longer than the window itself: every key expires within DEDUPE_TTL_SECONDS, pending or confirmed.
  const pendingTtl = Math.min(options.pendingTtlSeconds ?? 10, options.ttlSeconds);
  const runIn = <T>(script: RedisScript<T>, slots: readonly DedupeSlot[], head: number[]) =>
    script.run(
      redis,
      slots.map((slot) => slot.key),
      [...head, ...slots.map((slot) => slot.field)],
    );
  // A script's keys must share a slot: with lead partitions, one call per partition present, in parallel, the
  // replies put back in the slots' order (a count is summed).
  const run = async <T extends number | Claim[]>(script: RedisScript<T>, slots: DedupeSlot[], head: number[]) => {
    const groups = groupByPartition(slots);
    if (groups.length === 1) return runIn(script, slots, head);
    const replies = await Promise.all(groups.map((group) => runIn(script, group.slots, head)));
    if (typeof replies[0] === "number") return replies.reduce<number>((sum, reply) => sum + Number(reply), 0) as T;
    const claims: Claim[] = new Array(slots.length);
    groups.forEach((group, g) => {
      const reply = replies[g] as Claim[];
      group.positions.forEach((position, i) => {
        claims[position] = reply[i] ?? FAILED;
      });
    });
    return claims as T;
  };

  const release = async (slots: DedupeSlot[]) => {
    if (slots.length > 0) await run(RELEASE_IDS, slots, []);
  };

  const batcher = createBatcher<DedupeSlot[], Claim[]>({
    maxSize: options.maxKeys ?? 2000,
    maxInflight: options.maxInflight ?? 2,
    size: (slots) => slots.length,
    async send(requests) {
      const slots = requests.length === 1 && requests[0] ? requests[0] : requests.flat();
      const claims = run(CLAIM_IDS, slots, [pendingTtl]) as Promise<Claim[]>;
      const replies = await withDeadline(claims, deadlineMs, "Redis", (late) => {
        // The caller was already answered 503: undo what the late call claimed, so its retry is not a duplicate.
        void release(slots.filter((_, i) => late[i] === CLAIMED)).catch(() => undefined);
      });
      const results: Claim[][] = [];
      let offset = 0;
      for (const request of requests) {
        results.push(replies.slice(offset, offset + request.length) as Claim[]);
        offset += request.length;
      }
      return results;
    },
  });

  const confirmer = createBatcher<DedupeSlot[], undefined>({
    maxSize: options.maxKeys ?? 2000,
    maxInflight: options.maxInflight ?? 2,
    size: (slots) => slots.length,
    async send(requests) {
      await run(CONFIRM_IDS, requests.flat(), [options.ttlSeconds]);
      return [];
    },
  });

  return {
    /** One claim per id, in order. Rejects when Redis does not answer (nothing is known to be set then). */
    claim: (slots: DedupeSlot[]) => batcher.submit(slots),
    /** Marks claimed ids as queued, for the whole de-duplication window. */
    confirm: (slots: DedupeSlot[]) => confirmer.submit(slots),
    /** Forgets claimed ids whose events were not queued. */
    release,
    async flush() {
      await batcher.flush();
      await confirmer.flush();
    },
  };
}
export type Claimer = ReturnType<typeof createClaimer>;

/** The slots of each partition present, with their positions in `slots`. */
function groupByPartition(slots: readonly DedupeSlot[]): { slots: DedupeSlot[]; positions: number[] }[] {
  const groups = new Map<number, { slots: DedupeSlot[]; positions: number[] }>();
  slots.forEach((slot, position) => {
    const group = groups.get(slot.partition) ?? { slots: [], positions: [] };
    groups.set(slot.partition, group);
    group.slots.push(slot);
    group.positions.push(position);
  });
  return groups.size === 0 ? [{ slots: [], positions: [] }] : [...groups.values()];
}
