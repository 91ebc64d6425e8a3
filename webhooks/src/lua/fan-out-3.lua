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
--- @include "<live>/outbox"
--- @include "includes/enqueue"

local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
if #entries == 0 then return 0 end
local now, most, logSize = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
local dropped = 0
local subs = {}
for _, raw in ipairs(redis.call('HVALS', KEYS[2])) do
  local s = cjson.decode(raw)
  if s.active then
    local wanted = {}
    for _, t in ipairs(s.events) do wanted[t] = true end
    subs[#subs + 1] = { id = s.id, wanted = wanted }
  end
end
local ids = {}
for _, entry in ipairs(entries) do
  local m = outboxRead(entry[2])
  for _, s in ipairs(subs) do
    if s.wanted[m.type] then
      local id = tostring(redis.call('INCR', KEYS[3]))
      local queued = enqueue(ARGV[3] .. s.id, {
        id = id, msg = 'msg_' .. entry[1], type = m.type, lead = m.lead, from = m.from or '', to = m.to or '',
        score = m.score or '', prev = m.prev or '', event = m.event or '', etype = m.etype or '', rank = m.rank or '',
        at = tonumber(m.at) or now, status = 'pending', created_at = now, round_at = false, tries = 0,
        next_at = now, attempts = {}
      }, now, most, logSize)
      if not queued then dropped = dropped + 1 end
    end
  end
  ids[#ids + 1] = entry[1]
end
redis.call('XDEL', KEYS[1], unpack(ids))
return { #entries, dropped }
