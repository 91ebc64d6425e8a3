-- Stores or deletes a webhook subscription, and rewrites the outbox's `wants` key from the subscriptions.
-- KEYS[1]  the subscriptions hash (id → JSON subscription)
-- KEYS[2]  the outbox's `wants` key
-- ARGV[1]  subscription id
-- ARGV[2]  JSON subscription, or '' to delete it with its queue and log
-- ARGV[3]  subscription key prefix (the id appended makes its key base)
-- ARGV[4]  '1' when it is being enabled (its receiver's failing time starts again)
-- Reply: 1 stored; when deleting, 1 when it existed, else 0.
-- Guarantee: atomic: the commit script never sees a `wants` key that disagrees with the subscriptions.
--- @include "includes/save-wants"

local SUFFIXES = { ':d', ':q', ':ready', ':inflight', ':all', ':pending', ':delivered', ':failed', ':dropped', ':health',
  ':notices' }
local k = ARGV[3] .. ARGV[1]
if ARGV[2] == '' then
  local existed = redis.call('HDEL', KEYS[1], ARGV[1])
  for _, suffix in ipairs(SUFFIXES) do
    redis.call('UNLINK', k .. suffix)
  end
  saveWants(KEYS[1], KEYS[2])
  return existed
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] == '1' then redis.call('HDEL', k .. ':health', 'failing_since') end
saveWants(KEYS[1], KEYS[2])
return 1
