// Short leases on leads in Redis, so two workers do not score the same lead at the same moment. On MongoDB they only
// save work (a lost compare-and-set costs a round); correctness rests on the compare-and-set, which holds even when a
// lease expires under a stalled worker. FerretDB 1.x's update is not atomic (it reads the matching document, then
// writes it back by `_id`), so two compare-and-sets on one lead can both "match" there: the leases are what keep
// its writes apart, and they are renewed while held so a slow round keeps them.
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

export interface Leases {
  /** Takes the leases that are free; returns the ids now held. */
  acquire(leadIds: readonly string[]): Promise<Set<string>>;
  /** Gives back leases held by this process (a lease that expired and was taken by another is left alone). */
  release(leadIds: Iterable<string>): Promise<void>;
  readonly ttlMs: number;
}

// One key per script call, so the leases work on Redis Cluster too (keys of different leads live in other slots).
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end
return 0`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) end
return 0`;

export function createLeases(redis: Redis, redisPrefix: string, ttlMs: number): Leases {
  const token = randomUUID();
  const key = (leadId: string) => `${redisPrefix}:lead-lease:${leadId}`;
  const held = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  const renew = async () => {
    if (held.size === 0) return;
    const pipeline = redis.pipeline();
    for (const id of held) pipeline.eval(RENEW, 1, key(id), token, ttlMs);
    await pipeline.exec().catch(() => undefined);
  };
  const schedule = () => {
    if (timer || held.size === 0) return;
    timer = setInterval(() => void renew(), Math.max(ttlMs / 3, 50));
    timer.unref();
  };

  return {
    ttlMs,
    async acquire(leadIds) {
      const pipeline = redis.pipeline();
      for (const id of leadIds) pipeline.set(key(id), token, "PX", ttlMs, "NX");
      const replies = (await pipeline.exec()) ?? [];
      const got = new Set<string>();
      leadIds.forEach((id, i) => {
        const [error, reply] = replies[i] ?? [];
        if (!error && reply === "OK") got.add(id);
      });
      for (const id of got) held.add(id);
      schedule();
      return got;
    },
    async release(leadIds) {
      const ids = [...leadIds];
      for (const id of ids) held.delete(id);
      if (held.size === 0) {
        clearInterval(timer);
        timer = undefined;
      }
      if (ids.length === 0) return;
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.eval(RELEASE, 1, key(id), token);
      await pipeline.exec();
    },
  };
}
