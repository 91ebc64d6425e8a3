-- The edge's earlier de-duplication confirmation, a key per event id, kept as the baseline `bench/dedupe.ts`
-- measures the bucket layout beside (`edge/src/ingest/lua/confirm-ids.lua`).
-- It marks claimed event ids as queued, for the whole de-duplication window (second step of `claim-ids.lua`).
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     one per event id
-- ARGV[1]  the de-duplication window, seconds
-- Reply: the number of keys given.
-- Guarantee: only keys that exist are touched (XX): an id released meanwhile stays released.
for i = 1, #KEYS do redis.pcall('SET', KEYS[i], '1', 'EX', ARGV[1], 'XX') end
return #KEYS
