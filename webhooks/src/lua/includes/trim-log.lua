-- Keeps the newest logSize settled deliveries (delivered, failed, dropped) of a subscription: deletes the oldest of
-- them from the log and from the deliveries hash.
local function trimLog(k, logSize)
  local settled = { ':delivered', ':failed', ':dropped' }
  local count = 0
  for _, key in ipairs(settled) do count = count + redis.call('ZCARD', k .. key) end
  while count > logSize do
    local key, old, oldest
    for _, candidate in ipairs(settled) do
      local first = redis.call('ZRANGE', k .. candidate, 0, 0, 'WITHSCORES')
      if first[1] and (not oldest or tonumber(first[2]) < oldest) then key, old, oldest = candidate, first[1], tonumber(first[2]) end
    end
    redis.call('ZREM', k .. key, old)
    redis.call('ZREM', k .. ':all', old)
    redis.call('HDEL', k .. ':d', old)
    count = count - 1
  end
end
