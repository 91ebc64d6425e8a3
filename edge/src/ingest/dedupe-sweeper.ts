import { dedupeBucketKey, type Logger, redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";

const SWEEP_CURSOR = redisScript<[number, number, number]>(new URL("./lua/sweep-cursor-1.lua", import.meta.url));
const SWEEP_IDS = redisScript<number>(new URL("./lua/sweep-ids.lua", import.meta.url));

export interface DedupeSweeperOptions {
  redis: Redis;
  prefix: string;
  buckets: number;
  /** The lead partitions' prefixes (`partitionPrefixes`), bucket `b` sitting in partition `b mod P`; unset: `[prefix]`. */
  partitions?: readonly string[];
  /** The de-duplication window, seconds. */
  windowSeconds: number;
  log: Logger;
  /** Shortest pause between two sweeps, ms (each takes a range of buckets sized to keep the walk on time). */
  minIntervalMs?: number;
}

/** The Redis key of the sweep's shared state. */
export function dedupeSweepKey(prefix: string): string {
  return `${prefix}:dd:sweep`;
}

/**
 * Removes expired marks from the de-duplication window's buckets: a walk over every bucket takes a sixteenth of the
 * window, so a mark is gone at most that long after it expired and the window holds at most ~6% more than its live
 * marks. The edges share one walk (`sweep-cursor-1.lua` hands out ranges), so adding edges does not add sweeping.
 * Marks expire on their own for every read (`dedupe_state`): the sweep only gives their memory back.
 */
export function createDedupeSweeper(options: DedupeSweeperOptions) {
  const walkMs = Math.max(1, (options.windowSeconds * 1000) / 16);
  const intervalMs = Math.max(options.minIntervalMs ?? 100, walkMs / options.buckets);
  const perSweep = Math.min(options.buckets, Math.max(1, Math.ceil((options.buckets * intervalMs) / walkMs)));
  let timer: ReturnType<typeof setInterval> | undefined;
  let running: Promise<number> | undefined;

  /** Sweeps the next range of buckets; the number of marks removed. */
  async function sweepOnce(): Promise<number> {
    const [first, count, buckets] = await SWEEP_CURSOR.run(
      options.redis,
      [dedupeSweepKey(options.prefix)],
      [options.buckets, perSweep],
    );
    const partitions = options.partitions ?? [options.prefix];
    // A script's keys share a slot: one call per partition's buckets in the range.
    const keys: string[][] = partitions.map(() => []);
    for (let i = 0; i < count; i++) {
      const bucket = (first + i) % buckets;
      keys[bucket % partitions.length]?.push(dedupeBucketKey(partitions[bucket % partitions.length] as string, bucket));
    }
    const removed = await Promise.all(
      keys.filter((group) => group.length > 0).map((group) => SWEEP_IDS.run(options.redis, group, [])),
    );
    return removed.reduce((sum, count) => sum + Number(count), 0);
  }

  const tick = () => {
    if (running) return;
    running = sweepOnce()
      .catch((error: Error) => {
        options.log.warn("could not sweep de-duplication marks", { error: error.message });
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
  };

  return {
    sweepOnce,
    start() {
      timer ??= setInterval(tick, intervalMs);
      // Where the runtime allows it (Node), the timer alone does not keep the process up.
      (timer as { unref?: () => void }).unref?.();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
export type DedupeSweeper = ReturnType<typeof createDedupeSweeper>;
