// Hands back the jobs a closing worker still holds. Bull fetches the next job in the same step that completes one;
// when the queue starts closing meanwhile, that job is left in the active list, locked by this process, and another
// worker would only take it once the lock expires (JOB_LOCK_MS) and the stalled check runs. So after the queue has
// closed, every job still locked with this queue's token goes back to the head of the wait list, as Bull's stalled
// check would move it (the paused list while the queue is paused).
import { eventsQueueKey } from "@leadscore/runtime";
import type { Redis } from "ioredis";

const RELEASE = `
local released = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local lock = ARGV[2] .. id .. ':lock'
  if redis.call('GET', lock) == ARGV[1] then
    redis.call('DEL', lock)
    redis.call('LREM', KEYS[1], 1, id)
    if redis.call('EXISTS', KEYS[3]) == 1 then
      redis.call('RPUSH', KEYS[4], id)
    else
      redis.call('RPUSH', KEYS[2], id)
    end
    released = released + 1
  end
end
return released
`;

/** Returns the number of jobs handed back. `token` is the closed queue's (Bull's `queue.token`). */
export async function releaseHeldJobs(redis: Redis, prefix: string, token: string): Promise<number> {
  const keys = ["active", "wait", "meta-paused", "paused"].map((name) => eventsQueueKey(prefix, name));
  return (await redis.eval(RELEASE, keys.length, ...keys, token, eventsQueueKey(prefix, ""))) as number;
}
