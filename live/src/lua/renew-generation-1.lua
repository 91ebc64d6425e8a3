-- Names the live state's generation anew after a Redis restart whose append-only file kept it: the same layout and
-- label on the new run id, once the worker has caught up what the restart lost.
-- KEYS[1]  the generation key
-- ARGV[1]  the generation the catch-up started from
-- ARGV[2]  the generation to name
-- Reply: 1 when the generation was ARGV[1] and is now ARGV[2]; 0 when it had changed (deleted, being rebuilt, or
-- renewed by another process), and then it is left as it is.
-- Guarantee: atomic compare-and-set: live keys deleted (or a rebuild begun) during the catch-up are never named
-- current by it.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
