-- Makes a delivery due now: a pending one (waiting for its next try) at once, a settled one back into its lead's
-- queue at its place, with a new retry window.
-- KEYS[1]  the subscription's deliveries hash
-- ARGV[1]  the subscription's key base
-- ARGV[2]  delivery id
-- ARGV[3]  now (epoch ms)
-- Reply: the delivery's new JSON, or nil when there is no such delivery.
-- Guarantee: atomic; a lead a dispatcher holds stays claimed (its head is due when the claim is settled).
--- @include "includes/delivery-member"

local k, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local raw = redis.call('HGET', k .. ':d', id)
if not raw then return false end
local d = cjson.decode(raw)
if d.status ~= 'pending' then
  redis.call('ZREM', k .. ':' .. d.status, id)
  d.status = 'pending'
  redis.call('ZADD', k .. ':pending', tonumber(id), id)
  redis.call('ZADD', k .. ':q', 0, member(d.lead, id))
end
d.round_at = false
d.tries = 0
d.next_at = now
if not redis.call('ZSCORE', k .. ':inflight', d.lead) then redis.call('ZADD', k .. ':ready', 'LT', now, d.lead) end
raw = cjson.encode(d)
redis.call('HSET', k .. ':d', id, raw)
return raw
