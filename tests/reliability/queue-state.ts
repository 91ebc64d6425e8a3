// Bull's events queue read straight from its Redis keys, so a check never depends on a Bull client's reconnect
// schedule after the Redis it talks to was restarted.
import { EVENTS_QUEUE } from "@leadscore/contracts";
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

/** Waits until nothing is waiting, active or delayed; returns the last state seen. */
export async function drained(redis: Redis, prefix: string, timeoutMs: number): Promise<QueueState> {
  const deadline = Date.now() + timeoutMs;
  let state = await queueState(redis, prefix);
  while (state.waiting + state.active + state.delayed > 0) {
    if (Date.now() > deadline) {
      throw new Error(`queue not drained within ${timeoutMs} ms: ${JSON.stringify(state)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
    state = await queueState(redis, prefix);
  }
  return state;
}
