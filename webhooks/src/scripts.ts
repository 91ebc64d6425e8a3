// The Lua scripts behind subscriptions and deliveries. Each is one atomic step, so a process killed at any point
// leaves either the whole step done or none of it: a message is fanned out and removed from the outbox together, a
// delivery is settled and the next message of its lead released together.
//
// One subscription's keys, under `<prefix>:webhooks:s:<id>`:
//   :d         hash, delivery id → JSON Delivery
//   :q         sorted set of pending deliveries, by member `<lead id> <delivery id, 15 digits>` (all scores 0): the
//              lexical order gives each lead's queue, oldest first, and its head in one ZRANGEBYLEX
//   :ready     sorted set, lead → when its head delivery is due (epoch ms); a lead with pending deliveries is here
//              or in :inflight, never both, so a lead has at most one request in flight per subscription
//   :inflight  sorted set, lead → when its claim expires (a dispatcher that died mid-request loses its claim then)
//   :all :pending :delivered :failed   the delivery log, by delivery id (the score), all and by status
// Keys are built inside the scripts from the deployment's prefix, as the profile script does: on Redis Cluster the
// prefix is hash-tagged, so they share the slot of the keys passed.

/** Pads a delivery id so lexical order is numeric order. */
export const ID_DIGITS = 15;

const COMMON = `
local function pad(id) return string.rep('0', ${ID_DIGITS} - #id) .. id end
local function member(lead, id) return lead .. ' ' .. pad(id) end
local function release(k, lead, now)
  if redis.call('ZSCORE', k .. ':inflight', lead) then return end
  redis.call('ZADD', k .. ':ready', 'NX', now, lead)
end
local function enqueue(k, d, now)
  local id = tonumber(d.id)
  redis.call('HSET', k .. ':d', d.id, cjson.encode(d))
  redis.call('ZADD', k .. ':q', 0, member(d.lead, d.id))
  redis.call('ZADD', k .. ':all', id, d.id)
  redis.call('ZADD', k .. ':pending', id, d.id)
  release(k, d.lead, now)
end
local function wantsOf(subscriptionsKey)
  local letters = { ['lead.created'] = 'c', ['lead.stage_changed'] = 's', ['lead.score_changed'] = 'x' }
  local seen, wants = {}, ''
  local all = redis.call('HVALS', subscriptionsKey)
  for _, raw in ipairs(all) do
    local s = cjson.decode(raw)
    if s.active then
      for _, t in ipairs(s.events) do
        local l = letters[t]
        if l and not seen[l] then seen[l] = true; wants = wants .. l end
      end
    end
  end
  return wants
end
local function saveWants(subscriptionsKey, wantsKey)
  local wants = wantsOf(subscriptionsKey)
  if wants == '' then redis.call('DEL', wantsKey) else redis.call('SET', wantsKey, wants) end
end
`;

// KEYS: subscriptions, wants. ARGV: id, JSON subscription ('' deletes it and its deliveries), subscription prefix.
export const SAVE_SUBSCRIPTION = `${COMMON}
if ARGV[2] == '' then
  local existed = redis.call('HDEL', KEYS[1], ARGV[1])
  local k = ARGV[3] .. ARGV[1]
  for _, suffix in ipairs({ ':d', ':q', ':ready', ':inflight', ':all', ':pending', ':delivered', ':failed' }) do
    redis.call('UNLINK', k .. suffix)
  end
  saveWants(KEYS[1], KEYS[2])
  return existed
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
saveWants(KEYS[1], KEYS[2])
return 1
`;

// KEYS: outbox, subscriptions, seq. ARGV: most entries, now, subscription prefix.
// Takes the outbox's oldest entries, makes one delivery per active subscription that wants each, and deletes them.
export const FAN_OUT = `${COMMON}
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
if #entries == 0 then return 0 end
local now = tonumber(ARGV[2])
local subs = {}
for _, raw in ipairs(redis.call('HVALS', KEYS[2])) do
  local s = cjson.decode(raw)
  if s.active then
    local wanted = {}
    for _, t in ipairs(s.events) do wanted[t] = true end
    subs[#subs + 1] = { id = s.id, wanted = wanted }
  end
end
local ids = {}
for _, entry in ipairs(entries) do
  local m = {}
  local fields = entry[2]
  for i = 1, #fields, 2 do m[fields[i]] = fields[i + 1] end
  for _, s in ipairs(subs) do
    if s.wanted[m.type] then
      local id = tostring(redis.call('INCR', KEYS[3]))
      enqueue(ARGV[3] .. s.id, {
        id = id, msg = 'msg_' .. entry[1], type = m.type, lead = m.lead, from = m.from or '', to = m.to or '',
        score = m.score or '', prev = m.prev or '', event = m.event or '', etype = m.etype or '', rank = m.rank or '',
        at = tonumber(m.at) or now, status = 'pending', created_at = now, round_at = false, tries = 0,
        next_at = now, attempts = {}
      }, now)
    end
  end
  ids[#ids + 1] = entry[1]
end
redis.call('XDEL', KEYS[1], unpack(ids))
return #entries
`;

// KEYS: seq. ARGV: subscription key base, JSON delivery without id, now. Returns the new delivery's id.
export const ENQUEUE = `${COMMON}
local d = cjson.decode(ARGV[2])
d.id = tostring(redis.call('INCR', KEYS[1]))
enqueue(ARGV[1], d, tonumber(ARGV[3]))
return d.id
`;

// KEYS: the subscription's deliveries (so the call goes to the right node on a Cluster). ARGV: subscription key
// base, now, claim ms, most leads. Returns `[claim expiry, JSON delivery]` pairs, flattened.
// First gives back the leads whose claim expired (their dispatcher died), then claims the leads whose head is due.
export const CLAIM = `${COMMON}
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
`;

// KEYS: subscriptions, wants. ARGV: subscription key base, subscription id, delivery id, claim expiry, outcome
// ('delivered' | 'retry' | 'failed' | 'gone'), JSON attempt, next due (retry, gone), now, log size, reason (gone).
// Records the attempt; when the claim is still this dispatcher's, settles the delivery and schedules the lead.
export const SETTLE = `${COMMON}
local k, subId, id, claim, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local due, now, logSize = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local raw = redis.call('HGET', k .. ':d', id)
if not raw then return 0 end
local d = cjson.decode(raw)
local attempts = {}
for _, attempt in ipairs(d.attempts) do attempts[#attempts + 1] = attempt end
attempts[#attempts + 1] = cjson.decode(ARGV[6])
while #attempts > 20 do table.remove(attempts, 1) end
d.attempts = attempts
if type(d.round_at) ~= 'number' then d.round_at = attempts[#attempts].at end
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
    -- Keep the newest logSize settled deliveries.
    while redis.call('ZCARD', k .. ':delivered') + redis.call('ZCARD', k .. ':failed') > logSize do
      local a = redis.call('ZRANGE', k .. ':delivered', 0, 0, 'WITHSCORES')
      local b = redis.call('ZRANGE', k .. ':failed', 0, 0, 'WITHSCORES')
      local key, old = ':delivered', a[1]
      if not old or (b[1] and tonumber(b[2]) < tonumber(a[2])) then key, old = ':failed', b[1] end
      redis.call('ZREM', k .. key, old)
      redis.call('ZREM', k .. ':all', old)
      redis.call('HDEL', k .. ':d', old)
    end
  else
    d.tries = (tonumber(d.tries) or 0) + 1
    d.next_at = due
    redis.call('ZADD', k .. ':ready', due, d.lead)
  end
  if outcome == 'gone' then
    local sraw = redis.call('HGET', KEYS[1], subId)
    if sraw then
      local s = cjson.decode(sraw)
      s.active = false
      s.disabled_reason = ARGV[10]
      s.updated_at = now
      redis.call('HSET', KEYS[1], subId, cjson.encode(s))
      saveWants(KEYS[1], KEYS[2])
    end
  end
end
redis.call('HSET', k .. ':d', id, cjson.encode(d))
return 1
`;

// KEYS: the subscription's deliveries. ARGV: subscription key base, delivery id, now. Makes a delivery due now: a pending one (waiting for its next
// try) at once, a settled one back into its lead's queue at its place, with a new retry window.
// Returns its new JSON, or nil when there is no such delivery.
export const RETRY = `${COMMON}
local k, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local raw = redis.call('HGET', k .. ':d', id)
if not raw then return false end
local d = cjson.decode(raw)
if d.status ~= 'pending' then
  redis.call('ZREM', k .. ':' .. d.status, id)
  d.status = 'pending'
  redis.call('ZADD', k .. ':pending', tonumber(id), id)
  redis.call('ZADD', k .. ':q', 0, member(d.lead, id))
end
d.round_at = false
d.tries = 0
d.next_at = now
if not redis.call('ZSCORE', k .. ':inflight', d.lead) then redis.call('ZADD', k .. ':ready', 'LT', now, d.lead) end
raw = cjson.encode(d)
redis.call('HSET', k .. ':d', id, raw)
return raw
`;
