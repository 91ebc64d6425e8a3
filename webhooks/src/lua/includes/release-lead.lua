-- Makes a lead's head delivery due `now` in its subscription (`:ready`), unless a dispatcher holds the lead's claim
-- (`:inflight`): a lead is in one of the two, never both, so it has at most one request in flight.
local function release(k, lead, now)
  if redis.call('ZSCORE', k .. ':inflight', lead) then return end
  redis.call('ZADD', k .. ':ready', 'NX', now, lead)
end
