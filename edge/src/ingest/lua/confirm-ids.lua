-- Marks claimed event ids as queued, for the whole de-duplication window (second step of `claim-ids.lua`).
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     one bucket per event id, in order
-- ARGV[1]  the de-duplication window, seconds
-- ARGV[2…] one field per key, in order
-- Reply: the number of ids given.
-- Guarantee: one HSET per id. A confirmation only ever follows its own successful claim (an id whose event could
-- not be queued is released instead, never confirmed), so the mark is written as it stands.
--- @include "includes/dedupe-clock"
local until_ = dedupe_now() + tonumber(ARGV[1])
for i = 1, #KEYS do redis.pcall('HSET', KEYS[i], ARGV[i + 1], until_) end
return #KEYS
