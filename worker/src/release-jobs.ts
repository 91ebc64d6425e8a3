// Hands back the jobs a closing worker still holds. Bull fetches the next job in the same step that completes one;
// when the queue starts closing meanwhile, that job is left in the active list, locked by this process, and another
// worker would only take it once the lock expires (JOB_LOCK_MS) and the stalled check runs. So after the queue has
// closed, every job still locked with this queue's token goes back to the head of the wait list, as Bull's stalled
// check would move it (the paused list while the queue is paused).
import { eventsQueueKey, redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";

const RELEASE_HELD_JOBS = redisScript<number>(new URL("./lua/release-held-jobs-4.lua", import.meta.url));

/** Returns the number of jobs handed back. `token` is the closed queue's (Bull's `queue.token`). */
export async function releaseHeldJobs(redis: Redis, prefix: string, token: string): Promise<number> {
  const keys = ["active", "wait", "meta-paused", "paused"].map((name) => eventsQueueKey(prefix, name));
  return RELEASE_HELD_JOBS.run(redis, keys, [token, eventsQueueKey(prefix, "")]);
}
