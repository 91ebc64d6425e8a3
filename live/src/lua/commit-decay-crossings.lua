-- Commits the stage changes decay caused in an interval, and moves the interval's end forward: per lead, the stage it
-- decayed to, its stage indexes, its `score_update`, its `lead.stage_changed` webhook message (event type 'decay')
-- and its movement into that stage (includes/movements, `at` the crossing instant), all in one atomic step, only
-- while the caller still holds the ticker's lock.
-- Takes as many keys as the call passes (the number of keys is given per call: one per lead after the others).
-- KEYS     the ticker's lock, the `through` key, byUpdated, byLastEvent, byUpdatedIn(stage) for each stage,
--          byLastEventIn(stage) for each stage, the outbox stream, its `wants` key, movedInto(stage) for each stage,
--          then per lead: its hash
-- ARGV     the lock's token, the new `through` (or '' to leave it), the number of stages, the stage names, the
--          movement window (ms) and cap, then per lead: id, the version read, the stage it decayed to, its score then,
--          the instant (ms), the event id, the movement's event (JSON, stored as it comes), the message count, then
--          channel, message × message count
-- Reply: 'lost' when the lock is not the caller's (nothing written), else one letter per lead: 'o' committed, 'c' its
-- version moved since it was read (nothing written for it), 's' already in that stage (nothing written).
-- Guarantee: a lead's stage changes once per crossing whatever the number of tickers or a ticker killed mid-way: the
-- change is a compare-and-set on the lead's stored stage and version (which it raises, so a worker that planned the
-- lead before it plans again), and `through` moves only with the last chunk of an interval.
--- @include "includes/outbox"
--- @include "includes/stage-indexes"
--- @include "includes/movements"

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
local stages = tonumber(ARGV[3])
local updatedIn, activityIn = stageIndexes(stages, 3, 4)
local outbox, wants = KEYS[5 + 2 * stages], redis.call('GET', KEYS[6 + 2 * stages]) or ''
local movedKey = {}
for s = 1, stages do movedKey[ARGV[3 + s]] = KEYS[6 + 2 * stages + s] end
local firstLead = 6 + 3 * stages
local movementWindow, movementCap = tonumber(ARGV[4 + stages]), ARGV[5 + stages]
local a = 6 + stages
local out = {}
local i = 1
while a <= #ARGV do
  local id, expected, stage, score, at, event = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local moved, nm = ARGV[a + 6], tonumber(ARGV[a + 7])
  local lead = KEYS[firstLead + i]
  local was = redis.call('HMGET', lead, 'v', 'st', 's')
  if was[1] ~= expected then
    out[i] = 'c'
  elseif was[2] == stage then
    out[i] = 's'
  else
    local old = was[2]
    redis.call('HSET', lead, 'v', tostring(tonumber(expected) + 1), 'st', stage)
    moveStage(updatedIn, activityIn, KEYS[3], KEYS[4], id, old, stage)
    if old and outboxWants(wants, 'lead.stage_changed') then
      outboxAppend(outbox, { type = 'lead.stage_changed', lead = id, from = old, to = stage, score = score,
        prev = was[3] or '0', event = event, etype = 'decay', at = at, rank = '' })
    end
    if old then movementRecord(movedKey[stage], id, old, at, moved, movementWindow, movementCap) end
    for m = 0, nm - 1 do redis.call('PUBLISH', ARGV[a + 8 + 2 * m], ARGV[a + 9 + 2 * m]) end
    out[i] = 'o'
  end
  a = a + 8 + 2 * nm
  i = i + 1
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
return out
