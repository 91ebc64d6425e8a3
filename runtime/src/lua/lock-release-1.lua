-- Deletes a lock, if it is still the caller's.
-- KEYS[1]  the lock
-- ARGV[1]  the holder's token
-- Reply: 1 when the token's lock was deleted, else 0.
-- Guarantee: token-checked: another holder's lock is left as it is.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
