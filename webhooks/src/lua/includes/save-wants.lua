--- @include "<live>/outbox"

-- The letters of the message kinds the active subscriptions want, each once (the commit script reads them).
local function wantsOf(subscriptionsKey)
  local seen, wants = {}, ''
  local all = redis.call('HVALS', subscriptionsKey)
  for _, raw in ipairs(all) do
    local s = cjson.decode(raw)
    if s.active then
      for _, t in ipairs(s.events) do
        local l = OUTBOX_KIND_LETTERS[t]
        if l and not seen[l] then seen[l] = true; wants = wants .. l end
      end
    end
  end
  return wants
end

-- Rewrites the outbox's `wants` key from the subscriptions; deletes it when none wants anything.
local function saveWants(subscriptionsKey, wantsKey)
  local wants = wantsOf(subscriptionsKey)
  if wants == '' then redis.call('DEL', wantsKey) else redis.call('SET', wantsKey, wants) end
end
