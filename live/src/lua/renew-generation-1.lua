-- Names the live state's generation anew after a Redis restart whose append-only file kept it: the same layout and
-- label on the new run id, once the worker has caught up what the restart lost.
-- KEYS[1]  the generation key
-- ARGV[1]  the generation the catch-up started from
-- ARGV[2]  the generation to name (ARGV[3]'s run, ARGV[1]'s layout and label)
-- ARGV[3]  the run of Redis the catch-up's commits ran on, learned before the first of them (`redisRunId`)
-- Reply: 1 when the generation was ARGV[1] and is now ARGV[2]; 0 when it had changed (deleted, being rebuilt, or
-- renewed by another process), and then it is left as it is; -1 when this Redis process is not ARGV[3]'s run (it
-- restarted during the catch-up, and may have lost the catch-up's last commits): nothing written.
-- Guarantee: atomic compare-and-set: live keys deleted (or a rebuild begun) during the catch-up are never named
-- current by it, and a generation is named current only on the process that holds every commit of the catch-up
-- (they ran on it before this call, and its append-only file, a prefix of its writes, keeps them wherever it keeps
-- this one).
--- @include "includes/same-run"
if not isSameRun(ARGV[3]) then
  return -1
end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
