-- Whether the Redis process running the script is the run the caller names, as `redisRunId` (live/src/generation.ts)
-- spells it: a Redis's `run_id`, or a Cluster's masters' run ids joined by '.'. A write guarded by it lands only on
-- the process the caller learned the run from before its other writes, never on one that came back after a restart
-- and may have lost them (ioredis resends a command that had no reply when the connection dropped, and queues those
-- issued while it is down).
local function isSameRun(runs)
  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
  return run ~= nil and string.find('.' .. runs .. '.', '.' .. run .. '.', 1, true) ~= nil
end
