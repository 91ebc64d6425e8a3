-- Hands the next range of buckets to sweep to whichever edge asks, so that N edges share one walk over the
-- de-duplication window's buckets instead of each walking all of them.
-- KEYS[1]  the sweep's state (a hash: `next`, the next bucket; `buckets`, the most buckets ever used)
-- ARGV[1]  DEDUPE_BUCKETS of the asking edge
-- ARGV[2]  how many buckets to hand out
-- Reply: { first bucket, count, buckets to walk } — the range wraps at the third number.
-- Guarantee: atomic: two edges never get the same range of one walk. The walk covers the most buckets any edge has
-- used, so buckets left past a lowered DEDUPE_BUCKETS are still swept until they are empty.
local buckets = math.max(tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 'buckets') or 0))
redis.call('HSET', KEYS[1], 'buckets', buckets)
local first = tonumber(redis.call('HGET', KEYS[1], 'next') or 0) % buckets
local count = math.min(tonumber(ARGV[2]), buckets)
redis.call('HSET', KEYS[1], 'next', (first + count) % buckets)
return { first, count, buckets }
