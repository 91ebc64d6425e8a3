import type { Redis } from "ioredis";
import { createBatcher, withDeadline } from "./batcher.ts";

/** What claiming an event id found: this request is the first (`CLAIMED`), or it was seen (`SEEN`), or Redis failed. */
export const CLAIMED = 1;
export const SEEN = 0;
export const FAILED = -1;
export type Claim = typeof CLAIMED | typeof SEEN | typeof FAILED;

/**
 * `SET key 1 EX ttl NX` for every key, in one round trip: far cheaper for the edge than a pipeline of SETs (one
 * reply to parse instead of one per event). `pcall` keeps going past a failed SET (e.g. Redis out of memory) and
 * reports it, so the caller knows exactly which keys it set and can release them.
 * On Redis Cluster every key of a script must live in one slot: give REDIS_PREFIX a hash tag (`{leadscore}`), as
 * the Bull queue needs anyway.
 */
const CLAIM_SCRIPT = `
local out = {}
for i = 1, #KEYS do
  local reply = redis.pcall('SET', KEYS[i], '1', 'EX', ARGV[1], 'NX')
  if type(reply) == 'table' and reply.err then out[i] = -1 elseif reply then out[i] = 1 else out[i] = 0 end
end
return out`;

const COMMAND = "leadscoreClaimIds";
type ClaimCommand = (numKeys: number, ...args: (string | number)[]) => Promise<number[]>;

export interface ClaimerOptions {
  redis: Redis;
  ttlSeconds: number;
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
  redis.defineCommand(COMMAND, { lua: CLAIM_SCRIPT });
  const claimIds = (keys: string[]) =>
    (redis as unknown as Record<typeof COMMAND, ClaimCommand>)[COMMAND](keys.length, ...keys, options.ttlSeconds);

  const release = async (keys: string[]) => {
    if (keys.length > 0) await redis.del(...keys);
  };

  const batcher = createBatcher<string[], Claim[]>({
    maxSize: options.maxKeys ?? 2000,
    maxInflight: options.maxInflight ?? 2,
    size: (keys) => keys.length,
    async send(requests) {
      const keys = requests.length === 1 && requests[0] ? requests[0] : requests.flat();
      const replies = await withDeadline(claimIds(keys), deadlineMs, "Redis", (late) => {
        // The caller was already answered 503: undo what the late call claimed, so its retry is not a duplicate.
        void release(keys.filter((_, i) => late[i] === CLAIMED)).catch(() => undefined);
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

  return {
    /** One claim per key, in order. Rejects when Redis does not answer (nothing is known to be set then). */
    claim: (keys: string[]) => batcher.submit(keys),
    /** Forgets claimed ids whose events were not queued. */
    release,
    flush: batcher.flush,
  };
}
export type Claimer = ReturnType<typeof createClaimer>;
