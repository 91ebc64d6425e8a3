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
-- `byLastEvent`; an idle lead, which is in neither (live/src/idle.ts), at its times in the stage it leaves.
local function moveStage(updatedIn, activityIn, byUpdated, byLastEvent, id, from, to)
  local function move(global, index)
    local value = redis.call('ZSCORE', global, id)
    if from and index[from] then
      value = value or redis.call('ZSCORE', index[from], id)
      redis.call('ZREM', index[from], id)
    end
    if value then redis.call('ZADD', index[to], value, id) end
  end
  move(byUpdated, updatedIn)
  move(byLastEvent, activityIn)
end
