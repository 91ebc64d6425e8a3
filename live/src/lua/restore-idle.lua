-- Gives an idle lead back the fields it shed and its global activity entries (live/src/idle.ts), before anything
-- folds it again.
-- Takes as many keys as the call passes (the number of keys is given per call: the number of stages decides it).
-- KEYS     the lead's hash, byUpdated, byLastEvent, byUpdatedIn(stage) for each stage, byLastEventIn(stage) for each
--          stage
-- ARGV[1]  the lead's id
-- ARGV[2]  the mark the lead's `idle` field holds (names its archive document)
-- ARGV[3]  the number of stages, then the stage names (in the order of their keys)
-- ARGV[…]  field, value × the fields the document holds (stored names)
-- Reply: 1 restored, 0 nothing to do (not idle, or idle under another document).
-- Guarantee: only the shed named by ARGV[2] is undone, once; fields written since (score, stage, profile, version)
-- are left alone, since the shed fields are written by nothing but a commit, which restores first. The global
-- activity entries come back at the values the lead's stage indexes hold, which every write since kept.
--- @include "includes/stage-indexes"

if redis.call('HGET', KEYS[1], 'i') ~= ARGV[2] then return 0 end
local stages = tonumber(ARGV[3])
local updatedIn, activityIn = stageIndexes(stages, 3, 3)
local first = 4 + stages
if #ARGV >= first then redis.call('HSET', KEYS[1], unpack(ARGV, first)) end
redis.call('HDEL', KEYS[1], 'i')
local stage = redis.call('HGET', KEYS[1], 'st')
local function back(global, inStage)
  local value = inStage and redis.call('ZSCORE', inStage, ARGV[1])
  if value then redis.call('ZADD', global, value, ARGV[1]) end
end
back(KEYS[2], stage and updatedIn[stage])
back(KEYS[3], stage and activityIn[stage])
return 1
