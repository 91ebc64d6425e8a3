-- Commits leads a retroactive publish re-scored: per lead, compares the version read, sets the whole new state (its
-- score, history tail, page list, tally and breakdown under the version published), moves it in the score and stage
-- indexes, and, when the publish asked for them, appends a `lead.stage_changed` webhook message for a lead whose
-- stage moved (event type 'rescore'), and, when its score or stage moved, a record in its re-score log (the version
-- before and after, the score and stage either side: its history derives an entry from it); then publishes its
-- `score_update`. Its times (`updated_at`, latest activity) stay: a re-score is not activity.
-- Takes as many keys as the call passes (the number of keys is given per call: one per lead after the others).
-- KEYS     gen, byScore, deep, aliases, byUpdated, byLastEvent, byUpdatedIn(stage) for each stage,
--          byLastEventIn(stage) for each stage, the outbox stream, its `wants` key, then per lead: its hash, its
--          re-score log
-- ARGV     gen, '1' to send webhook messages (else '0'), the version published, the number of stages, the stage names,
--          then per lead: id, the version read, rank key, stage, score, the instant (ms), the rules version that scored
--          it before ('' for none), field count, message count, then field, value × field count, channel, message ×
--          message count
-- Reply: 'stale' when the generation is not ARGV[1] (the live state was wiped or is being rebuilt: nothing is
-- written), else one item per lead: 'o' committed, the record written to its re-score log (its JSON) when committed
-- and moved, 'c' its version moved since it was read, or the deep lane owns it, or it was merged into another (nothing
-- written for it: the caller reads it again).
-- Guarantee: a compare-and-set per lead on the version the worker's commits raise, in one atomic step with its
-- indexes: a read sees the lead wholly before or wholly after its re-score, and an event folded meanwhile is never
-- lost (the re-score of a lead that moved is planned again from what it holds then).
--- @include "includes/outbox"
--- @include "includes/stage-indexes"

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'stale' end
local send, version = ARGV[2] == '1', ARGV[3]
local stages = tonumber(ARGV[4])
local updatedIn, activityIn = stageIndexes(stages, 4, 6)
local outbox, wants = KEYS[7 + 2 * stages], redis.call('GET', KEYS[8 + 2 * stages]) or ''
local firstLead = 8 + 2 * stages
local a = 5 + stages
local out = {}
local i = 1
while a <= #ARGV do
  local id, expected, rank, stage, score, at = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
  local from = ARGV[a + 6]
  local nf, nm = tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  local field = a + 9
  local msg = field + 2 * nf
  a = msg + 2 * nm
  local lead, log = KEYS[firstLead + 2 * i - 1], KEYS[firstLead + 2 * i]
  local was = redis.call('HMGET', lead, 'v', 'st', 's')
  if (was[1] or '0') ~= expected or redis.call('HEXISTS', KEYS[3], id) == 1 or redis.call('HEXISTS', KEYS[4], id) == 1 then
    out[i] = 'c'
  else
    local old = was[2]
    local before = tonumber(was[3] or '0')
    local record = nil
    if before ~= tonumber(score) or old ~= stage then
      record = cjson.encode({ from = tonumber(from), at = tonumber(at), before = before, after = tonumber(score),
        sb = old or '', sa = stage })
      redis.call('HSET', log, version, record)
    end
    if nf > 0 then redis.call('HSET', lead, unpack(ARGV, field, field + 2 * nf - 1)) end
    redis.call('HSET', lead, 'v', tostring(tonumber(expected) + 1))
    redis.call('ZADD', KEYS[2], rank, id)
    if old ~= stage then
      moveStage(updatedIn, activityIn, KEYS[5], KEYS[6], id, old, stage)
      if send and old and outboxWants(wants, 'lead.stage_changed') then
        outboxAppend(outbox, { type = 'lead.stage_changed', lead = id, from = old, to = stage, score = score,
          prev = was[3] or '0', event = 'rescore:' .. version, etype = 'rescore', at = at,
          rank = tostring(redis.call('ZRANK', KEYS[2], id) + 1) })
      end
    end
    for m = 0, nm - 1 do redis.call('PUBLISH', ARGV[msg + 2 * m], ARGV[msg + 2 * m + 1]) end
    out[i] = record or 'o'
  end
  i = i + 1
end
return out
