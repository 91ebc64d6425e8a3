-- Claims the leads whose head delivery is due, after giving back the leads whose claim expired (their dispatcher
-- died).
-- KEYS[1]  the subscription's deliveries hash (so the call goes to the right node on a Cluster)
-- ARGV[1]  the subscription's key base
-- ARGV[2]  now (epoch ms)
-- ARGV[3]  claim duration, ms
-- ARGV[4]  the most leads to claim
-- Reply: `claim expiry, JSON delivery` pairs, flattened.
-- Guarantee: a lead is claimed by one dispatcher at a time (it moves from `:ready` to `:inflight` atomically), so a
-- lead has at most one request in flight per subscription.
local k, now, claim, most = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for _, lead in ipairs(redis.call('ZRANGEBYSCORE', k .. ':inflight', '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', k .. ':inflight', lead)
  redis.call('ZADD', k .. ':ready', 'NX', now, lead)
end
local out = {}
for _, lead in ipairs(redis.call('ZRANGEBYSCORE', k .. ':ready', '-inf', now, 'LIMIT', 0, most)) do
  redis.call('ZREM', k .. ':ready', lead)
  local head = redis.call('ZRANGEBYLEX', k .. ':q', '[' .. lead .. ' ', '(' .. lead .. '!', 'LIMIT', 0, 1)[1]
  if head then
    local raw = redis.call('HGET', k .. ':d', tostring(tonumber(string.sub(head, #lead + 2))))
    if raw then
      redis.call('ZADD', k .. ':inflight', now + claim, lead)
      out[#out + 1] = tostring(now + claim)
      out[#out + 1] = raw
    else
      redis.call('ZREM', k .. ':q', head)
      redis.call('ZADD', k .. ':ready', now, lead)
    end
  end
end
return out
