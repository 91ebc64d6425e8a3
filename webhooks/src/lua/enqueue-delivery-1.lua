-- Queues one delivery asked for by hand (a test event), not bounded by the subscription's backlog.
-- KEYS[1]  the delivery id sequence
-- ARGV[1]  the subscription's key base
-- ARGV[2]  JSON delivery without its id
-- ARGV[3]  now (epoch ms)
-- Reply: the new delivery's id.
-- Guarantee: atomic: the delivery is in the log and in its lead's queue together.
--- @include "includes/enqueue"

local d = cjson.decode(ARGV[2])
d.id = tostring(redis.call('INCR', KEYS[1]))
enqueue(ARGV[1], d, tonumber(ARGV[3]), 0, 0)
return d.id
