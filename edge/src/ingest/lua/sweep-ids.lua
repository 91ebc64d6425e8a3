-- Removes the expired marks of some buckets of the de-duplication window (the edge's sweeper walks every bucket
-- within a sixteenth of the window, see `dedupe-sweeper.ts`). A bucket left empty is deleted by Redis.
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     the buckets to sweep
-- Reply: the number of marks removed.
-- Guarantee: removes only marks expired by Redis' clock (a pending mark past its time, a seen one past the window).
--- @include "includes/dedupe-clock"
local now = dedupe_now()
local removed = 0
for i = 1, #KEYS do
  local all = redis.call('HGETALL', KEYS[i])
  local gone = {}
  for j = 1, #all, 2 do
    if dedupe_state(all[j + 1], now) == 0 then gone[#gone + 1] = all[j] end
  end
  if #gone > 0 then removed = removed + redis.call('HDEL', KEYS[i], unpack(gone)) end
end
return removed
