-- Sheds an idle lead's history fields, once the worker has archived them to MongoDB (live/src/idle.ts).
-- KEYS     the lead's hash, the deep-lane hash (leads the deep lane owns)
-- ARGV[1]  the lead's id
-- ARGV[2]  the version the archive was read at
-- ARGV[3]  the mark naming the archive (`<version>|<random>`), kept in the `idle` field
-- ARGV[4…] the stored names of the fields to shed
-- Reply: 1 shed, 0 left as it was (its version moved, it is idle already, or the deep lane owns it).
-- Guarantee: the fields shed are exactly the ones archived (the version compare), and the version moves on, so a
-- commit planned on the whole state before the shed fails its compare-and-set and plans again (restoring first).
-- What is left is written anew: a hash keeps the table encoding its large fields gave it after they are deleted,
-- and a fresh one of small fields is a listpack, a third of the size.
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'i') == 1 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('HDEL', KEYS[1], unpack(ARGV, 4))
local rest = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(rest))
redis.call('HSET', KEYS[1], 'i', ARGV[3], 'v', tostring(tonumber(ARGV[2]) + 1))
return 1
