-- Sets a lead's profile in the live state (after MongoDB took it); a lead with no live state yet gets one of score 0,
-- so lists and counts show it, and is created for webhooks too (`lead.created`, as the commit script records it).
-- KEYS[1]  the lead's hash
-- KEYS[2]  byScore
-- KEYS[3]  byUpdated
-- KEYS[4]  byUpdatedIn(the zero stage)
-- KEYS[5]  the webhook outbox stream
-- KEYS[6]  its `wants` key
-- KEYS[7]  byLastEvent (a new lead enters it at 0: no event yet)
-- KEYS[8]  byLastEventIn(the zero stage) (likewise)
-- KEYS[9]  the search texts (hash: lead id → search text)
-- ARGV[1]  lead id
-- ARGV[2]  name
-- ARGV[3]  email
-- ARGV[4]  company
-- ARGV[5]  now (epoch ms)
-- ARGV[6]  the rank key of score 0
-- ARGV[7]  the zero stage
-- ARGV[8]  the prefix of the stage index keys (a stage name appended makes its key)
-- ARGV[9]  the lead's search text (see includes/search.lua), from its id and this profile
-- Reply: 1 when the lead already had a live state, else 0.
-- Guarantee: atomic: the lead, its indexes, its search text and its `lead.created` message are written together; an
-- existing lead's fold state (version, score, stage, count) is left as it is.
--- @include "includes/outbox"

local existed = redis.call('EXISTS', KEYS[1])
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'email', ARGV[3], 'company', ARGV[4], 'ua', ARGV[5])
if existed == 0 then
  redis.call('HSET', KEYS[1], 'v', '0', 's', '0', 'st', ARGV[7], 'n', '0', 'ca', ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
  redis.call('ZADD', KEYS[7], 0, ARGV[1])
  redis.call('ZADD', KEYS[8], 0, ARGV[1])
  if outboxWants(redis.call('GET', KEYS[6]) or '', 'lead.created') then
    outboxAppend(KEYS[5], { type = 'lead.created', lead = ARGV[1], from = '', to = ARGV[7], score = '0', prev = '',
      event = '', etype = '', at = ARGV[5], rank = tostring(redis.call('ZRANK', KEYS[2], ARGV[1]) + 1) })
  end
else
  local stage = redis.call('HGET', KEYS[1], 'st') or ARGV[7]
  redis.call('ZADD', ARGV[8] .. stage, ARGV[5], ARGV[1])
end
-- An idle lead stays out of the global activity indexes (live/src/idle.ts): its stage's gives its new time.
if redis.call('HEXISTS', KEYS[1], 'i') == 0 then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1]) end
redis.call('HSET', KEYS[9], ARGV[1], ARGV[9])
return existed
