-- Marks batch journal entries done, only on the run of Redis their commits ran on (worker/src/journal.ts): a batch's
-- entry once its last commit returned, or the entries a catch-up held (worker/src/catch-up.ts).
-- KEYS[1]  the journal's done marks (`<prefix>:journal:done`)
-- ARGV[1]  the marks' score (now, in ms)
-- ARGV[2]  the run the commits began on, as the worker learned it before the first of them: a Redis's `run_id`, or
--          a Cluster's masters' run ids joined by '.'
-- ARGV[3…] the entries' ids
-- Reply: 1 when marked, 0 when this Redis process is not that run (nothing written).
-- Guarantee: a mark is written only by the process the commits began after, so every commit before it ran on that
-- same process, and its append-only file, a prefix of its writes, keeps them wherever it keeps the mark. A mark
-- resent after a restart (ioredis resends a command that had no reply), or following a commit that was, is refused.
--- @include "<live>/same-run"
if not isSameRun(ARGV[2]) then
  return 0
end
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
end
return 1
