-- Marks a batch journal entry done, only on the run of Redis its batch began on (worker/src/journal.ts).
-- KEYS[1]  the journal's done marks (`<prefix>:journal:done`)
-- ARGV[1]  the mark's score (now, in ms)
-- ARGV[2]  the entry's id
-- ARGV[3]  the run the batch began on, as the worker learned it before opening the entry: a Redis's `run_id`, or
--          a Cluster's masters' run ids joined by '.'
-- Reply: 1 when marked, 0 when this Redis process is not that run (nothing written).
-- Guarantee: a mark is written only by the process the batch's commits began after, so every commit before it ran on
-- that same process, and its append-only file, a prefix of its writes, keeps them wherever it keeps the mark. A mark
-- resent after a restart (ioredis resends a command that had no reply), or following a commit that was, is refused.
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
if run == nil or not string.find('.' .. ARGV[3] .. '.', '.' .. run .. '.', 1, true) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return 1
