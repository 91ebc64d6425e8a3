-- Records a notice (a table, stored as JSON) on a subscription, newest first, keeping the last NOTICES_KEPT.
-- NOTICES_KEPT agrees with webhooks/src/model.ts (a unit test).
local NOTICES_KEPT = 50
local function notify(k, notice)
  redis.call('LPUSH', k .. ':notices', cjson.encode(notice))
  redis.call('LTRIM', k .. ':notices', 0, NOTICES_KEPT - 1)
end
