-- Forgets claimed event ids whose events were not queued, so the client's retry is not taken for a duplicate.
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     one bucket per event id, in order
-- ARGV[1…] one field per key, in order
-- Reply: the number of marks removed.
-- Guarantee: removes only the given ids' marks; the bucket's other marks stay.
local removed = 0
for i = 1, #KEYS do removed = removed + redis.call('HDEL', KEYS[i], ARGV[i]) end
return removed
