// The fence between batches and a retroactive publish's re-score, so that the version an event is matched under never
// depends on timing (how soon a worker's rules cache hears of the version, how long a batch takes to commit).
//
// A batch, before it matches its events, files itself under the batches in flight and reads the newest version
// published retroactively, in one MULTI; it matches under that version (reloading the rules when the cache is older)
// and leaves the set once its commits returned. The publish writes the version in a MULTI of its own
// (`startRescore`), so every batch is either filed before it — the re-score waits for it to leave before reading any
// lead, then finds its events in the live state and re-matches them — or reads the version and matches under it.
//
// A batch whose worker died without leaving is passed over once it is older than BATCH_LEASE_MS: its job's next try
// files itself again.
import { randomUUID } from "node:crypto";
import { rescoreBatchesKey, rescoreVersionKey } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { RuleMatcher, RulesCache } from "./rules-cache.ts";

/** Far longer than a batch runs: a batch older than this is taken for one whose worker died. */
export const BATCH_LEASE_MS = 120_000;
const POLL_MS = 20;

export class RulesNotLoadedError extends Error {
  override name = "RulesNotLoadedError";
}

export interface FenceTicket {
  /** The rules to match the batch under: the version published retroactively last, or a newer one. */
  rules: RuleMatcher;
  /** Called once every commit of the batch returned (or the batch gave up). */
  leave(): Promise<void>;
}

export interface RulesFence {
  enter(): Promise<FenceTicket>;
}

export function createRulesFence(options: {
  redis: Redis;
  prefix: string;
  rules: Pick<RulesCache, "current" | "reload">;
  now?: () => number;
}): RulesFence {
  const { redis, rules } = options;
  const now = options.now ?? Date.now;
  const batches = rescoreBatchesKey(options.prefix);
  return {
    async enter() {
      const id = randomUUID();
      const replies = await redis.multi().zadd(batches, now(), id).get(rescoreVersionKey(options.prefix)).exec();
      const leave = async () => {
        await redis.zrem(batches, id);
      };
      const published = Number(replies?.[1]?.[1] ?? 0);
      if (rules.current().version < published) {
        await rules.reload().catch(() => undefined);
        if (rules.current().version < published) {
          await leave();
          throw new RulesNotLoadedError(`rule set version ${published} is not loaded yet`);
        }
      }
      return { rules: rules.current(), leave };
    },
  };
}

/**
 * Resolves once every batch filed before this call has left (or outlived its lease): from then on, each batch
 * matches under the version published before the call, or commits nothing the live state does not already show.
 */
export async function batchesBeforeLeft(
  redis: Redis,
  prefix: string,
  signal: AbortSignal,
  now: () => number = Date.now,
): Promise<void> {
  const key = rescoreBatchesKey(prefix);
  let waiting = await redis.zrange(key, "0", "-1");
  while (waiting.length > 0 && !signal.aborted) {
    await redis.zremrangebyscore(key, "-inf", now() - BATCH_LEASE_MS);
    const scores = await redis.zmscore(key, ...waiting);
    waiting = waiting.filter((_, index) => scores[index] !== null);
    if (waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  signal.throwIfAborted();
}
