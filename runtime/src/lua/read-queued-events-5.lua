-- Reads the number of events in unfinished jobs of the events queue (back-pressure, the queue-depth gauge).
-- KEYS[1]  the queued-events count
-- KEYS[2]  the queue's wait list
-- KEYS[3]  its active list
-- KEYS[4]  its delayed sorted set
-- KEYS[5]  its paused list
-- Reply: { the count (never below 0), the number of unfinished jobs }. A reader takes the larger of the count (plus
-- what it has not yet added) and the jobs: each job holds at least one event (or one merge), so while any waits the
-- reading is never 0, though an edge's count lags its jobs by up to 20 ms (runtime/src/queued-counts.ts).
-- Guarantee: the count's two halves (added by the edge, taken off by the worker) are separate commands, so a process
-- dying between them leaves it off by that job; whenever the queue holds no unfinished job, the count is reset to 0
-- in the same atomic step as the read. A job queued without the edge (a replay, a benchmark adding to Bull directly)
-- is never counted in, so its finishing takes the count below 0: such a count is repaired to the unfinished jobs, a
-- lower bound, from which the edge's next jobs count on.
local pending = redis.call("llen", KEYS[2]) + redis.call("llen", KEYS[3]) + redis.call("zcard", KEYS[4]) +
  redis.call("llen", KEYS[5])
local count = tonumber(redis.call("get", KEYS[1]) or "0")
if pending == 0 then
  if count ~= 0 then redis.call("set", KEYS[1], 0) end
  return { 0, 0 }
end
if count < 0 then
  redis.call("set", KEYS[1], pending)
  count = pending
end
return { count, pending }
