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
//   :all :pending :delivered :failed :dropped   the delivery log, by delivery id (the score), all and by status
//   :health    hash: failing_since (first failed attempt since the last success), last_success_at, dropped (messages
//              dropped in all), dropping / dropping_count (start and count of the current episode of a full backlog)
//   :notices   list of JSON notices (webhook.disabled, webhook.backlog_full, webhook.backlog_resumed), newest first
// Keys are built inside the scripts from the deployment's prefix, as the profile script does: on Redis Cluster the
// prefix is hash-tagged, so they share the slot of the keys passed.
import { NOTICES_KEPT } from "./model.ts";

/** Pads a delivery id so lexical order is numeric order. */
export const ID_DIGITS = 15;

/** Every key suffix of one subscription, deleted with it. */
const SUFFIXES =
  "':d', ':q', ':ready', ':inflight', ':all', ':pending', ':delivered', ':failed', ':dropped', ':health', ':notices'";

const COMMON = `
local function pad(id) return string.rep('0', ${ID_DIGITS} - #id) .. id end
local function member(lead, id) return lead .. ' ' .. pad(id) end
local function release(k, lead, now)
  if redis.call('ZSCORE', k .. ':inflight', lead) then return end
  redis.call('ZADD', k .. ':ready', 'NX', now, lead)
end
local function notify(k, notice)
  redis.call('LPUSH', k .. ':notices', cjson.encode(notice))
  redis.call('LTRIM', k .. ':notices', 0, ${NOTICES_KEPT} - 1)
end
-- Keeps the newest logSize settled deliveries (delivered, failed, dropped): deletes the oldest of them.
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
-- Queues a delivery. With a bound (most > 0) and that many pending already, drops it instead: it goes into the log
-- as 'dropped' (never sent; a retry queues it again), counted, and the first drop of an episode is a notice.
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
-- Disables a subscription (its deliveries wait until it is enabled again); a notice when it was active.
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
`;

// KEYS: subscriptions, wants. ARGV: id, JSON subscription ('' deletes it and its deliveries), subscription prefix,
// '1' when it is being enabled (its receiver's failing time starts again).
export const SAVE_SUBSCRIPTION = `${COMMON}
local k = ARGV[3] .. ARGV[1]
if ARGV[2] == '' then
  local existed = redis.call('HDEL', KEYS[1], ARGV[1])
  for _, suffix in ipairs({ ${SUFFIXES} }) do
    redis.call('UNLINK', k .. suffix)
  end
  saveWants(KEYS[1], KEYS[2])
  return existed
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] == '1' then redis.call('HDEL', k .. ':health', 'failing_since') end
saveWants(KEYS[1], KEYS[2])
return 1
`;

// KEYS: outbox, subscriptions, seq. ARGV: most entries, now, subscription prefix, most pending deliveries per
// subscription, log size. Reply: { entries taken, deliveries dropped }.
// Takes the outbox's oldest entries, makes one delivery per active subscription that wants each, and deletes them;
// a subscription whose backlog is at its bound gets the delivery as dropped (see enqueue).
export const FAN_OUT = `${COMMON}
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
if #entries == 0 then return 0 end
local now, most, logSize = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
local dropped = 0
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
      local queued = enqueue(ARGV[3] .. s.id, {
        id = id, msg = 'msg_' .. entry[1], type = m.type, lead = m.lead, from = m.from or '', to = m.to or '',
        score = m.score or '', prev = m.prev or '', event = m.event or '', etype = m.etype or '', rank = m.rank or '',
        at = tonumber(m.at) or now, status = 'pending', created_at = now, round_at = false, tries = 0,
        next_at = now, attempts = {}
      }, now, most, logSize)
      if not queued then dropped = dropped + 1 end
    end
  end
  ids[#ids + 1] = entry[1]
end
redis.call('XDEL', KEYS[1], unpack(ids))
return { #entries, dropped }
`;

// KEYS: seq. ARGV: subscription key base, JSON delivery without id, now. Returns the new delivery's id.
// Not bounded: one message asked for by hand (a test event).
export const ENQUEUE = `${COMMON}
local d = cjson.decode(ARGV[2])
d.id = tostring(redis.call('INCR', KEYS[1]))
enqueue(ARGV[1], d, tonumber(ARGV[3]), 0, 0)
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
// ('delivered' | 'retry' | 'failed' | 'gone'), JSON attempt, next due (retry, gone), now, log size, reason (gone),
// disable after (ms without a success), reason (disabled for it).
// Records the attempt and the receiver's health; when the claim is still this dispatcher's, settles the delivery and
// schedules the lead. A failed attempt that comes `disable after` ms or more after the first failure since the last
// success disables the subscription (as a 410 does). Reply: 0 no such delivery, 1 recorded, 2 recorded and the
// subscription disabled by it.
export const SETTLE = `${COMMON}
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
