-- Adds to one 5-minute bucket of the last 24 hours' activity (`GET /api/stats`) and makes it expire with the window.
-- KEYS[1]  the bucket's counter
-- ARGV[1]  the increment
-- ARGV[2]  time to live, seconds
-- Reply: nil.
-- Guarantee: the counter is never left without its expiry (both in one atomic step).
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
