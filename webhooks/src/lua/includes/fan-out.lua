--- @include "<live>/outbox"
--- @include "enqueue"

-- The active subscriptions (the subscriptions hash's values), each with the set of message kinds it wants.
local function activeSubscriptions(subscriptionsKey)
  local subs = {}
  for _, raw in ipairs(redis.call('HVALS', subscriptionsKey)) do
    local s = cjson.decode(raw)
    if s.active then
      local wanted = {}
      for _, t in ipairs(s.events) do wanted[t] = true end
      subs[#subs + 1] = { id = s.id, wanted = wanted }
    end
  end
  return subs
end

-- Makes one delivery of outbox message `m` (a table by field), named `msg`, per subscription in `subs` that wants
-- it; the number of them dropped for a full backlog (see enqueue.lua).
local function fanOutMessage(subs, msg, m, seqKey, prefix, now, most, logSize)
  local dropped = 0
  for _, s in ipairs(subs) do
    if s.wanted[m.type] then
      local id = tostring(redis.call('INCR', seqKey))
      local queued = enqueue(prefix .. s.id, {
        id = id, msg = msg, type = m.type, lead = m.lead, from = m.from or '', to = m.to or '',
        score = m.score or '', prev = m.prev or '', event = m.event or '', etype = m.etype or '', rank = m.rank or '',
        at = tonumber(m.at) or now, status = 'pending', created_at = now, round_at = false, tries = 0,
        next_at = now, attempts = {}
      }, now, most, logSize)
      if not queued then dropped = dropped + 1 end
    end
  end
  return dropped
end
