--- @include "save-wants"
--- @include "notify"

-- Disables a subscription (its deliveries wait until it is enabled again); a notice when it was active. Returns
-- whether it was active.
local function disable(subscriptionsKey, wantsKey, subId, k, now, reason)
  local sraw = redis.call('HGET', subscriptionsKey, subId)
  if not sraw then return false end
  local s = cjson.decode(sraw)
  local was = s.active
  s.active = false
  s.disabled_reason = reason
  s.disabled_at = now
  s.updated_at = now
  redis.call('HSET', subscriptionsKey, subId, cjson.encode(s))
  saveWants(subscriptionsKey, wantsKey)
  if was then notify(k, { type = 'webhook.disabled', at = now, reason = reason }) end
  return was
end
