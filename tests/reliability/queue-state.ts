// Bull's events queue read straight from its Redis keys, so a check never depends on a Bull client's reconnect
// schedule after the Redis it talks to was restarted.

import { liveKeys } from "@leadscore/live";
import { EVENTS_QUEUE } from "@leadscore/runtime";
import type { Redis } from "ioredis";

export interface QueueState {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  /** `failedReason` of each failed job, by job id. */
  failedReasons: Record<string, string>;
}

export async function queueState(redis: Redis, prefix: string): Promise<QueueState> {
  const key = (name: string) => `${prefix}:${EVENTS_QUEUE}:${name}`;
  const [wait, paused, active, delayed, priority, completed] = await Promise.all([
    redis.llen(key("wait")),
    redis.llen(key("paused")),
    redis.llen(key("active")),
    redis.zcard(key("delayed")),
    redis.zcard(key("priority")),
    redis.zcard(key("completed")),
  ]);
  const failedIds = await redis.zrange(key("failed"), "0", "-1");
  const failedReasons: Record<string, string> = {};
  for (const id of failedIds) failedReasons[id] = (await redis.hget(key(id), "failedReason")) ?? "(no reason)";
  return {
    waiting: wait + paused + priority,
    active,
    delayed,
    failed: failedIds.length,
    completed,
    failedReasons,
  };
}

/**
 * Waits until nothing is waiting, active or delayed, and no lead waits for the deep lane (its leads are folded after
 * their jobs complete); returns the last state seen.
 */
export async function drained(redis: Redis, prefix: string, timeoutMs: number): Promise<QueueState> {
  const deadline = Date.now() + timeoutMs;
  const deep = liveKeys(prefix).deep;
  for (;;) {
    const state = await queueState(redis, prefix).catch(() => null);
    const deepLeads = await redis.hlen(deep).catch(() => -1);
    if (state && state.waiting + state.active + state.delayed === 0 && deepLeads === 0) return state;
    if (Date.now() > deadline) {
      throw new Error(
        `queue not drained within ${timeoutMs} ms: ${JSON.stringify(state)}, ${deepLeads} leads in the deep lane`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
