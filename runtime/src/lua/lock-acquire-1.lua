-- Takes a lock if it is free.
-- KEYS[1]  the lock
-- ARGV[1]  the holder's token
-- ARGV[2]  time to live, ms
-- Reply: the Redis server time of the win (epoch ms), or nil when the lock is held (by anyone, this token included:
-- a holder extends, it does not acquire again).
-- Guarantee: at most one token holds the key at any time.
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
local now = redis.call('TIME')
return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
