-- Hands back the jobs of the events queue still locked by a closing worker, as Bull's stalled check would move them.
-- KEYS[1]  the queue's active list
-- KEYS[2]  its wait list
-- KEYS[3]  its meta-paused key (present while the queue is paused)
-- KEYS[4]  its paused list
-- ARGV[1]  the closed queue's token (Bull's `queue.token`)
-- ARGV[2]  the queue's key prefix (`<prefix>:events:`), to which a job id and ':lock' are appended
-- Reply: the number of jobs handed back.
-- Guarantee: token-checked: only jobs whose lock is still this token's are moved (to the head of the wait list, the
-- right end Bull takes from, or of the paused list while the queue is paused), each with its lock deleted, atomically.
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
