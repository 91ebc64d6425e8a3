-- Stage indexes: per stage, its leads by `updated_at` and by `last_event_at` (LiveKeys.byUpdatedIn / byLastEventIn),
-- each lead filed under its stage at the time the global indexes hold for it.

-- The maps stage → index key: the `stages` names are ARGV[namesAt + 1 …], their keys KEYS[keysAt + 1 …] (every
-- `updated_at` index, then every `last_event_at` one, in the names' order).
local function stageIndexes(stages, namesAt, keysAt)
  local updatedIn, activityIn = {}, {}
  for s = 1, stages do
    updatedIn[ARGV[namesAt + s]] = KEYS[keysAt + s]
    activityIn[ARGV[namesAt + s]] = KEYS[keysAt + stages + s]
  end
  return updatedIn, activityIn
end

-- Files lead `id` under stage `to` instead of `from` (nil: under none yet), at its times in `byUpdated` and
-- `byLastEvent`.
local function moveStage(updatedIn, activityIn, byUpdated, byLastEvent, id, from, to)
  if from and updatedIn[from] then redis.call('ZREM', updatedIn[from], id) end
  if from and activityIn[from] then redis.call('ZREM', activityIn[from], id) end
  local updated = redis.call('ZSCORE', byUpdated, id)
  if updated then redis.call('ZADD', updatedIn[to], updated, id) end
  local activity = redis.call('ZSCORE', byLastEvent, id)
  if activity then redis.call('ZADD', activityIn[to], activity, id) end
end
