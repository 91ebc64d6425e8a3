-- The edge's earlier de-duplication claim, a key per event id, kept as the baseline `bench/dedupe.ts` measures the
-- bucket layout beside (`edge/src/ingest/lua/claim-ids.lua`).
-- It claims event ids for the de-duplication window, first step of two: each key is set to 'p' (pending) for a short
-- time; `confirm-ids.lua` makes it '1' for the whole window once its event is queued. So an id whose claimer died
-- before queueing it is never answered "duplicate": it reads as pending until the short time frees it.
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     one per event id
-- ARGV[1]  how long a claim stays pending, seconds
-- Reply: one number per key, in order: 1 claimed by this call, 0 seen (queued before), 2 pending (claimed by another
-- call, not queued yet), -1 the SET failed (e.g. Redis out of memory).
-- Guarantee: `pcall` keeps going past a failed SET and reports it, so the caller knows exactly which keys it set and
-- can release them.
local out = {}
for i = 1, #KEYS do
  local reply = redis.pcall('SET', KEYS[i], 'p', 'EX', ARGV[1], 'NX')
  if type(reply) == 'table' and reply.err then out[i] = -1
  elseif reply then out[i] = 1
  elseif redis.call('GET', KEYS[i]) == 'p' then out[i] = 2
  else out[i] = 0 end
end
return out
