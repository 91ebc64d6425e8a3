-- Makes a lock last a while longer, if it is still the caller's.
-- KEYS[1]  the lock
-- ARGV[1]  the holder's token
-- ARGV[2]  time to live from now, ms
-- Reply: 1 when the lock is the token's and now lasts ARGV[2] ms from now, else 0 (expired, or another's).
-- Guarantee: token-checked: another holder's lock is left as it is.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
