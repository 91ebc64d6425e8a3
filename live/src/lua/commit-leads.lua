-- Commits a chunk of leads to the live state: per lead, compares the version the worker read, sets the new state,
-- moves the lead in every index, records its webhook messages and publishes its `score_update`.
-- Takes as many keys as the call passes (the number of keys is given per call: two per lead, nine for mode 'm').
-- KEYS     gen, byScore, byUpdated, deep, byUpdatedIn(stage) for each stage, byLastEventIn(stage) for each stage,
--          movedInto(stage) for each stage; then per lead: its hash, its deep-lane list, and for mode 'm' its
--          merged-from list, merge log and re-score log, its root's three, and the search texts (includes/merge); then
--          byLastEvent, the identity map (aliases); last the webhook outbox stream and its `wants` key
-- ARGV     gen, the stage names (as many as KEYS has indexes of each kind per stage), '#', the movement window (ms) and cap, the
--          number of leads, then per lead: id, mode, expected version, rank key, updated_at, stage, drained, rescans,
--          entries to append to the tail (or ''), page refs to append to the page list (or ''), the event that moved
--          the lead (or ''; for modes 'm' and 'a', the root it was merged into), field count, pending count, message
--          count, then field, value × field count; pending event × pending count; channel, message × message count;
--          for mode 'm' last the merge's record (`MergeRecord` JSON) and how many events the merged lead brought.
--          Everything is passed flat: a field such as the tail is itself JSON, and encoding it again costs both sides.
--          Modes: 'c' commit (set the fields if the version is still the expected one; when the deep lane owns the
--          lead, its pending events go to the deep-lane list instead), 'p' hand the lead to the deep lane with its
--          pending events, 'r' the same asking for a rescan of its stored events, 'f' the deep lane's own commit
--          (also drops the first `drained` deep-lane events and releases the lead when none are left and no rescan
--          was asked for since `rescans`), 'e' the same release for a merge's root with neither live state nor events,
--          writing no state and no index entry, 'm' the deep lane's removal of a lead merged into its root (includes/merge:
--          only when the root's own commit earlier in this call succeeded), which also records the merge in the root's
--          logs (so the merge's announcement and its record are one step), 'a' the same removal for a lead whose merge
--          committed before (events that reached it after), announcing and recording nothing. A lead the identity map resolves to
--          another is committed like one the deep lane owns: its events go to its list, which the deep lane folds into
--          the root.
-- Reply: 'stale' when the generation is not ARGV[1] (the live state was wiped or is being rebuilt: nothing is
-- written), else one letter per lead, in order: 'o' committed, 'c' conflict (its version moved: nothing written for
-- it), 'd' diverted to the deep lane.
-- Guarantee: atomic, and a compare-and-set per lead on its version, so readers never see a lead ahead of its
-- indexes, no lease is needed between workers, and a worker that read an older version writes nothing. A merge is
-- removed, announced and recorded in its root's merge log together: a worker that stops after the call leaves
-- nothing of the merge to do, and the next fold of the merged id finds it in the log (worker/src/merge.ts
-- `mergedBefore`) and commits as 'a'.
--
-- Webhook messages: when some active subscription wants a kind of message (the `wants` key, kept by the webhook
-- store), a committed lead appends it to the outbox stream in this same atomic step, so no crash can commit a change
-- and skip its message. `lead.created` when the lead had no live state, `lead.stage_changed` when its stage moved (a
-- new lead counts as coming from the first stage at 0), `lead.score_changed` when its score moved. The event is the
-- newest of those the commit folded (as in its `score_update`), else the lead's newest entry. `lead.merged` when a
-- merged lead is removed (mode 'm'), naming its root, the root's score before and after its commit in this call.
--
-- Movements: when a committed lead's stage moved (a new lead counts as coming from the first stage) and the worker
-- passed the event that moved it, the lead is appended to the stage's movement stream (includes/movements), trimmed
-- to ARGV's window and cap, in this same atomic step.
--- @include "includes/outbox"
--- @include "includes/movements"
--- @include "includes/merge"

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'stale' end
local outbox = KEYS[#KEYS - 1]
local wants = redis.call('GET', KEYS[#KEYS]) or ''
local firstStage = ARGV[2]
local byLastEvent = KEYS[#KEYS - 3]
local aliases = KEYS[#KEYS - 2]
local done = {}
local function newestOf(items, from, to)
  local best
  for j = from, to do
    local event = cjson.decode(items[j])
    if not best or event[3] > best[3] or (event[3] == best[3] and event[1] > best[1]) then best = event end
  end
  return best
end
-- The deep lane's commit drops the deep-lane events it folded and releases the lead when none are left and no rescan
-- was asked for since `rescans`.
local function release(list, id, drained, rescans)
  if drained > 0 then redis.call('LTRIM', list, drained, -1) end
  local asked = redis.call('HGET', KEYS[4], id)
  if redis.call('LLEN', list) == 0 and asked == rescans then
    redis.call('HDEL', KEYS[4], id)
  elseif asked == rescans and rescans ~= '0' then
    redis.call('HSET', KEYS[4], id, 0)
  end
end
local a = 2
local stageKey = {}
local firstLead = 4
while ARGV[a] ~= '#' do
  stageKey[ARGV[a]] = KEYS[firstLead + 1]
  firstLead = firstLead + 1
  a = a + 1
end
local activityKey = {}
for s = 2, a - 1 do activityKey[ARGV[s]] = KEYS[firstLead + s - 1] end
firstLead = firstLead + a - 2
local movedKey = {}
for s = 2, a - 1 do movedKey[ARGV[s]] = KEYS[firstLead + s - 1] end
firstLead = firstLead + a - 2
a = a + 1
local movementWindow, movementCap = tonumber(ARGV[a]), ARGV[a + 1]; a = a + 2
local n = tonumber(ARGV[a]); a = a + 1
local out = {}
local k = firstLead + 1
for i = 1, n do
  local lead, list = KEYS[k], KEYS[k + 1]
  k = k + 2
  local id, mode, expected = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local rank, updated, stage = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local drained, rescans, added, paged = tonumber(ARGV[a + 6]), ARGV[a + 7], ARGV[a + 8], ARGV[a + 9]
  local moved = ARGV[a + 10]
  local nf, np, nm = tonumber(ARGV[a + 11]), tonumber(ARGV[a + 12]), tonumber(ARGV[a + 13])
  local field = a + 14
  local event0 = field + 2 * nf
  local msg = event0 + np
  a = msg + 2 * nm
  local logs, record, brought
  if mode == 'm' then
    logs = { unpack(KEYS, k, k + 6) }
    k = k + 7
    record, brought = ARGV[a], tonumber(ARGV[a + 1])
    a = a + 2
  end
  local owned = redis.call('HEXISTS', KEYS[4], id) == 1 or redis.call('HEXISTS', aliases, id) == 1
  if mode == 'p' or mode == 'r' or (mode == 'c' and owned) then
    -- In slices: unpack is bounded by Lua's stack.
    for from = event0, event0 + np - 1, 1000 do
      redis.call('RPUSH', list, unpack(ARGV, from, math.min(from + 999, event0 + np - 1)))
    end
    if mode == 'r' then redis.call('HINCRBY', KEYS[4], id, 1) else redis.call('HSETNX', KEYS[4], id, 0) end
    out[i] = 'd'
  elseif (redis.call('HGET', lead, 'v') or '0') ~= expected or ((mode == 'm' or mode == 'a') and not done[moved]) then
    out[i] = 'c'
  elseif mode == 'e' then
    release(list, id, drained, rescans)
    done[id] = { prev = '0', score = '0' }
    out[i] = 'o'
  elseif mode == 'm' or mode == 'a' then
    mergeAway(KEYS, id, lead, list, drained, byLastEvent, stageKey, activityKey)
    if mode == 'm' then mergeRecord(logs, id, record, brought) end
    if mode == 'm' and outboxWants(wants, 'lead.merged') then
      local root = done[moved]
      outboxAppend(outbox, { type = 'lead.merged', lead = moved, from = id, to = '', score = root.score,
        prev = root.prev, event = '', etype = '', at = updated, rank = '' })
    end
    for m = 0, nm - 1 do redis.call('PUBLISH', ARGV[msg + 2 * m], ARGV[msg + 2 * m + 1]) end
    out[i] = 'o'
  else
    local was = redis.call('HMGET', lead, 'st', 's', 'v')
    local old = was[1]
    if nf > 0 then redis.call('HSET', lead, unpack(ARGV, field, field + 2 * nf - 1)) end
    -- The tail and page list the worker planned on (the version matched): JSON arrays, new items spliced in before ']'.
    local function append(name, items)
      if items == '' then return end
      local stored = redis.call('HGET', lead, name)
      if not stored or stored == '' or stored == '[]' then
        stored = '[' .. items .. ']'
      else
        stored = string.sub(stored, 1, -2) .. ',' .. items .. ']'
      end
      redis.call('HSET', lead, name, stored)
    end
    append('t', added)
    append('pg', paged)
    redis.call('HSET', lead, 'v', tostring(tonumber(expected) + 1))
    redis.call('ZADD', KEYS[2], rank, id)
    redis.call('ZADD', KEYS[3], updated, id)
    if old and old ~= stage and stageKey[old] then redis.call('ZREM', stageKey[old], id) end
    redis.call('ZADD', stageKey[stage], updated, id)
    local score, newest, lastEvent
    for f = field, field + 2 * nf - 2, 2 do
      if ARGV[f] == 's' then score = ARGV[f + 1]
      elseif ARGV[f] == 'ne' then newest = ARGV[f + 1]
      elseif ARGV[f] == 'le' then lastEvent = ARGV[f + 1] end
    end
    -- Latest activity: the lead's newest event time (its `le`), which a profile edit does not move. The stage's own
    -- index follows the lead as its updated_at one does; a commit that moves the stage without a new `le` carries
    -- the lead's standing activity over.
    if lastEvent and lastEvent ~= '' then redis.call('ZADD', byLastEvent, lastEvent, id) end
    if old and old ~= stage and activityKey[old] then redis.call('ZREM', activityKey[old], id) end
    local activity = (lastEvent ~= '' and lastEvent) or redis.call('ZSCORE', byLastEvent, id)
    if activity then redis.call('ZADD', activityKey[stage], activity, id) end
    if wants ~= '' and score then
      local event
      if mode == 'f' then
        if drained > 0 then
          local items = redis.call('LRANGE', list, 0, drained - 1)
          event = newestOf(items, 1, #items)
        end
      else
        event = newestOf(ARGV, event0, event0 + np - 1)
      end
      if not event and newest and newest ~= '' then event = cjson.decode(newest) end
      event = event or { '', '' }
      local created = not was[3]
      local from, prev = old or firstStage, was[2] or '0'
      local rank = tostring(redis.call('ZRANK', KEYS[2], id) + 1)
      local function emit(kind, fromStage, previous)
        outboxAppend(outbox, { type = kind, lead = id, from = fromStage, to = stage, score = score, prev = previous,
          event = event[1], etype = event[2], at = updated, rank = rank })
      end
      if created and outboxWants(wants, 'lead.created') then emit('lead.created', '', '') end
      if from ~= stage and outboxWants(wants, 'lead.stage_changed') then emit('lead.stage_changed', from, prev) end
      if tonumber(prev) ~= tonumber(score) and outboxWants(wants, 'lead.score_changed') then
        emit('lead.score_changed', from, prev)
      end
    end
    if moved ~= '' and (old or firstStage) ~= stage then
      movementRecord(movedKey[stage], id, old or firstStage, updated, moved, movementWindow, movementCap)
    end
    if mode == 'f' then release(list, id, drained, rescans) end
    for m = 0, nm - 1 do redis.call('PUBLISH', ARGV[msg + 2 * m], ARGV[msg + 2 * m + 1]) end
    done[id] = { prev = was[2] or '0', score = score or redis.call('HGET', lead, 's') or '0' }
    out[i] = 'o'
  end
end
return out
