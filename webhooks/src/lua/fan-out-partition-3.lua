-- Fans out messages read from one lead partition's outbox stream (docs/partitions.md), which lies in another slot
-- than the subscriptions: the caller reads the stream after the partition's mark and passes the entries; this makes
-- one delivery per active subscription that wants each (as fan-out-3.lua does) and moves the mark past them.
-- KEYS[1]  the subscriptions hash
-- KEYS[2]  the delivery id sequence
-- KEYS[3]  the partitions' fan-out marks (hash: partition → id of the last stream entry fanned out)
-- ARGV[1]  now (epoch ms)
-- ARGV[2]  subscription key prefix
-- ARGV[3]  the most pending deliveries per subscription (0: no bound)
-- ARGV[4]  log size (settled deliveries kept per subscription)
-- ARGV[5]  the partition (its field in the marks, and its messages' id prefix)
-- ARGV[6…] the entries, oldest first: stream id, then the JSON array of its fields (flat name, value pairs)
-- Reply: { messages taken, deliveries dropped }.
-- Guarantee: atomic, and idempotent by the mark: an entry at or before it (passed again after a crash between this
-- call and the stream's trim, or by two dispatchers at once) is skipped, so none is fanned out twice; an entry is
-- trimmed from its stream only once the mark has passed it, so none is lost.
--- @include "includes/fan-out"

-- Whether stream id `a` comes after `b` (`<ms>-<seq>`; '' before every id).
local function after(a, b)
  if b == '' then return true end
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) > tonumber(bm) end
  return tonumber(as) > tonumber(bs)
end

local now, most, logSize = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local partition = ARGV[5]
local mark = redis.call('HGET', KEYS[3], partition) or ''
local subs = activeSubscriptions(KEYS[1])
local taken, dropped = 0, 0
for i = 6, #ARGV - 1, 2 do
  local id = ARGV[i]
  if after(id, mark) then
    local m = outboxRead(cjson.decode(ARGV[i + 1]))
    dropped = dropped + fanOutMessage(subs, 'msg_' .. partition .. '_' .. id, m, KEYS[2], ARGV[2], now, most, logSize)
    mark = id
    taken = taken + 1
  end
end
if taken > 0 then redis.call('HSET', KEYS[3], partition, mark) end
return { taken, dropped }
