-- Takes the outbox's oldest messages, makes one delivery per active subscription that wants each, and deletes them;
-- a subscription whose backlog is at its bound gets the delivery as dropped (see includes/enqueue.lua).
-- KEYS[1]  the outbox stream
-- KEYS[2]  the subscriptions hash
-- KEYS[3]  the delivery id sequence
-- ARGV[1]  the most messages to take
-- ARGV[2]  now (epoch ms)
-- ARGV[3]  subscription key prefix
-- ARGV[4]  the most pending deliveries per subscription (0: no bound)
-- ARGV[5]  log size (settled deliveries kept per subscription)
-- Reply: { messages taken, deliveries dropped }, or 0 when the outbox is empty.
-- Guarantee: atomic: a message is fanned out and removed from the outbox together, so none is fanned out twice or
-- lost by a crash.
--- @include "includes/fan-out"

local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
if #entries == 0 then return 0 end
local now, most, logSize = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
local dropped = 0
local subs = activeSubscriptions(KEYS[2])
local ids = {}
for _, entry in ipairs(entries) do
  dropped = dropped + fanOutMessage(subs, 'msg_' .. entry[1], outboxRead(entry[2]), KEYS[3], ARGV[3], now, most, logSize)
  ids[#ids + 1] = entry[1]
end
redis.call('XDEL', KEYS[1], unpack(ids))
return { #entries, dropped }
