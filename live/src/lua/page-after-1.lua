-- One page of a sorted set strictly after a position, whether or not the member at that position has moved since.
-- KEYS[1]  the sorted set
-- ARGV[1]  the position's value
-- ARGV[2]  the position's member
-- ARGV[3]  '1' descending, '0' ascending
-- ARGV[4]  the most members to return
-- Reply: up to ARGV[4] members with their values (flat, as WITHSCORES) that come strictly after the position (value,
-- member) in the set's order — values, then members bytewise, both reversed when descending — whether or not that
-- member still holds that value or is in the set at all.
-- Guarantee: read-only; a page continues where the previous one ended even when its last lead has moved since: no
-- lead that kept its place is skipped or repeated.
--
-- Cost: when the member still holds the value, its ZRANK; otherwise two ZCOUNTs and a binary search over the members
-- tied at the value (log2 of their number ZRANGEs of one entry), each O(log N); then the page's ZRANGE.
local key, value, member = KEYS[1], ARGV[1], ARGV[2]
local count = tonumber(ARGV[4])
-- Bytewise, as Redis orders members (Lua's < on strings follows the server's locale).
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- before: how many members sort before the position; at: whether the member itself is there.
local before, at
local current = redis.call('ZSCORE', key, member)
if current and tonumber(current) == tonumber(value) then
  before, at = redis.call('ZRANK', key, member), 1
else
  before, at = redis.call('ZCOUNT', key, '-inf', '(' .. value), 0
  local lo, hi = 0, redis.call('ZCOUNT', key, value, value)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(redis.call('ZRANGE', key, before + mid, before + mid)[1], member) then lo = mid + 1 else hi = mid end
  end
  before = before + lo
end
if ARGV[3] == '1' then
  local from = redis.call('ZCARD', key) - before
  return redis.call('ZREVRANGE', key, from, from + count - 1, 'WITHSCORES')
end
return redis.call('ZRANGE', key, before + at, before + at + count - 1, 'WITHSCORES')
