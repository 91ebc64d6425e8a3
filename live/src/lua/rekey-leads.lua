-- Re-keys leads in the score index after the half-life changed, and files each under the stage it now has.
-- Takes as many keys as the call passes (the number of keys is given per call: one per lead after the indexes).
-- KEYS     byScore, byUpdated, byLastEvent, byUpdatedIn(stage) for each stage, byLastEventIn(stage) for each stage, then
--          per lead: its hash
-- ARGV     the number of stages, the stage names, then per lead: id, the version read, its new rank key, its stage
-- Reply: the number of leads re-keyed (a lead whose version moved since it was read is left as it is: its commit keyed it).
-- Guarantee: per lead a compare-and-set on its version, which it raises, so a worker that planned the lead with the
-- half-life before the change loses its commit and plans again; the lead, its rank key and its stage indexes move
-- together, as in a commit.
--- @include "includes/stage-indexes"
local stages = tonumber(ARGV[1])
local updatedIn, activityIn = stageIndexes(stages, 1, 3)
local firstLead = 3 + 2 * stages
local a = 2 + stages
local rekeyed = 0
local i = 1
while a <= #ARGV do
  local id, expected, rank, stage = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local lead = KEYS[firstLead + i]
  local was = redis.call('HMGET', lead, 'v', 'st')
  if was[1] == expected then
    redis.call('HSET', lead, 'v', tostring(tonumber(expected) + 1), 'st', stage)
    redis.call('ZADD', KEYS[1], rank, id)
    local old = was[2]
    if old and old ~= stage then moveStage(updatedIn, activityIn, KEYS[2], KEYS[3], id, old, stage) end
    rekeyed = rekeyed + 1
  end
  a = a + 4
  i = i + 1
end
return rekeyed
