--- @include "delivery-member"
--- @include "release-lead"
--- @include "notify"
--- @include "trim-log"

-- Queues a delivery (a table: the Delivery's fields, its id set) on subscription `k`. With a bound (most > 0) and
-- that many pending already, drops it instead: it goes into the log as 'dropped' (never sent; a retry queues it
-- again), counted, and the first drop of an episode is a notice. Returns whether it was queued.
local function enqueue(k, d, now, most, logSize)
  local id = tonumber(d.id)
  if most > 0 and redis.call('ZCARD', k .. ':pending') >= most then
    d.status = 'dropped'
    d.next_at = false
    redis.call('HSET', k .. ':d', d.id, cjson.encode(d))
    redis.call('ZADD', k .. ':all', id, d.id)
    redis.call('ZADD', k .. ':dropped', id, d.id)
    redis.call('HINCRBY', k .. ':health', 'dropped', 1)
    redis.call('HINCRBY', k .. ':health', 'dropping_count', 1)
    if redis.call('HSETNX', k .. ':health', 'dropping', now) == 1 then
      notify(k, { type = 'webhook.backlog_full', at = now, dropped = 1, reason = 'the backlog is at its bound of ' ..
        most .. ' pending deliveries (WEBHOOK_MAX_PENDING): new messages are dropped, each logged as dropped, ' ..
        'until deliveries succeed' })
    end
    trimLog(k, logSize)
    return false
  end
  -- Queued under the bound again: the episode of drops, if any, ends (a test event, unbounded, does not end it).
  if most > 0 and redis.call('HEXISTS', k .. ':health', 'dropping') == 1 then
    local count = redis.call('HGET', k .. ':health', 'dropping_count') or '0'
    redis.call('HDEL', k .. ':health', 'dropping', 'dropping_count')
    notify(k, { type = 'webhook.backlog_resumed', at = now, dropped = tonumber(count), reason = 'the backlog is below ' ..
      'its bound again: ' .. count .. ' messages were dropped while it was full (status dropped in the log)' })
  end
  redis.call('HSET', k .. ':d', d.id, cjson.encode(d))
  redis.call('ZADD', k .. ':q', 0, member(d.lead, d.id))
  redis.call('ZADD', k .. ':all', id, d.id)
  redis.call('ZADD', k .. ':pending', id, d.id)
  release(k, d.lead, now)
  return true
end
