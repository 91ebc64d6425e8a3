-- Records a delivery attempt and the receiver's health; when the claim is still this dispatcher's, settles the
-- delivery and schedules its lead. A failed attempt that comes `disable after` ms or more after the first failure
-- since the last success disables the subscription (as a 410, 'gone', does).
-- KEYS[1]  the subscriptions hash
-- KEYS[2]  the outbox's `wants` key
-- ARGV[1]  the subscription's key base
-- ARGV[2]  subscription id
-- ARGV[3]  delivery id
-- ARGV[4]  the claim (its expiry, as the claim script answered it)
-- ARGV[5]  outcome: 'delivered', 'retry', 'failed' or 'gone'
-- ARGV[6]  JSON attempt
-- ARGV[7]  next due (retry, gone), epoch ms
-- ARGV[8]  now (epoch ms)
-- ARGV[9]  log size
-- ARGV[10] reason (gone)
-- ARGV[11] disable after (ms without a success)
-- ARGV[12] reason (disabled for it)
-- Reply: 0 no such delivery, 1 recorded, 2 recorded and the subscription disabled by it.
-- Guarantee: atomic, and claim-checked: a dispatcher whose claim expired (and was taken by another) records its
-- attempt but neither settles the delivery nor moves its lead.
--- @include "includes/delivery-member"
--- @include "includes/trim-log"
--- @include "includes/disable"

local k, subId, id, claim, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local due, now, logSize = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local disableAfter = tonumber(ARGV[11])
local raw = redis.call('HGET', k .. ':d', id)
if not raw then return 0 end
local disabled = false
local d = cjson.decode(raw)
local attempts = {}
for _, attempt in ipairs(d.attempts) do attempts[#attempts + 1] = attempt end
attempts[#attempts + 1] = cjson.decode(ARGV[6])
while #attempts > 20 do table.remove(attempts, 1) end
d.attempts = attempts
if type(d.round_at) ~= 'number' then d.round_at = attempts[#attempts].at end
local attemptAt = attempts[#attempts].at
if outcome == 'delivered' then
  redis.call('HSET', k .. ':health', 'last_success_at', attemptAt)
  redis.call('HDEL', k .. ':health', 'failing_since')
else
  redis.call('HSETNX', k .. ':health', 'failing_since', attemptAt)
  local since = tonumber(redis.call('HGET', k .. ':health', 'failing_since'))
  if outcome ~= 'gone' and attemptAt - since >= disableAfter then
    disabled = disable(KEYS[1], KEYS[2], subId, k, now, ARGV[12])
  end
end
local ours = redis.call('ZSCORE', k .. ':inflight', d.lead) == claim
if ours and d.status == 'pending' then
  redis.call('ZREM', k .. ':inflight', d.lead)
  if outcome == 'delivered' or outcome == 'failed' then
    d.status = outcome
    d.next_at = false
    redis.call('ZREM', k .. ':q', member(d.lead, id))
    redis.call('ZREM', k .. ':pending', id)
    redis.call('ZADD', k .. ':' .. outcome, tonumber(id), id)
    if redis.call('ZRANGEBYLEX', k .. ':q', '[' .. d.lead .. ' ', '(' .. d.lead .. '!', 'LIMIT', 0, 1)[1] then
      redis.call('ZADD', k .. ':ready', now, d.lead)
    end
    trimLog(k, logSize)
  else
    d.tries = (tonumber(d.tries) or 0) + 1
    d.next_at = due
    redis.call('ZADD', k .. ':ready', due, d.lead)
  end
  if outcome == 'gone' then disabled = disable(KEYS[1], KEYS[2], subId, k, now, ARGV[10]) end
end
redis.call('HSET', k .. ':d', id, cjson.encode(d))
if disabled then return 2 end
return 1
