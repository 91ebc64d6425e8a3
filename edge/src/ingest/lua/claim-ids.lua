-- Claims event ids for the de-duplication window, first step of two: each id's mark is set pending for a short
-- time; `confirm-ids.lua` makes it seen for the whole window once its event is queued. So an id whose claimer died
-- before queueing it is never answered "duplicate": it reads as pending until the short time frees it.
-- An id lives as one field of a bucket hash (`runtime/src/dedupe-slot.ts`); a call passes one bucket per id.
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     one bucket per event id, in order (a bucket may repeat)
-- ARGV[1]  how long a claim stays pending, seconds
-- ARGV[2…] one field per key, in order
-- Reply: one number per key, in order: 1 claimed by this call, 0 seen (queued before), 2 pending (claimed by another
-- call, not queued yet), -1 the write failed (e.g. Redis out of memory).
-- Guarantee: `pcall` keeps going past a failed write and reports it, so the caller knows exactly which ids it
-- claimed and can release them; a mark is seen, pending or expired by Redis' clock alone, whether or not the sweep
-- has removed it yet. A new id (the usual case) costs one HSETNX.
--- @include "includes/dedupe-clock"
local now = dedupe_now()
local mark = -(now + tonumber(ARGV[1]))
local out = {}
for i = 1, #KEYS do
  local key, field = KEYS[i], ARGV[i + 1]
  local set = redis.pcall('HSETNX', key, field, mark)
  if type(set) == 'table' then
    out[i] = -1
  elseif set == 1 then
    out[i] = 1
  else
    local state = dedupe_state(redis.call('HGET', key, field), now)
    if state == 1 then out[i] = 0
    elseif state == 2 then out[i] = 2
    elseif type(redis.pcall('HSET', key, field, mark)) == 'table' then out[i] = -1
    else out[i] = 1 end
  end
end
return out
