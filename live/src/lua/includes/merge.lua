-- A lead merged into its root, taken out of the live state by the deep lane's commit (mode 'm' of commit-leads):
-- out of every index, its hash deleted, the deep-lane events it folded dropped; it stays with the deep lane while
-- events are left on its list (they arrived meanwhile and are folded into the root next).
-- KEYS as commit-leads takes them (KEYS[2] byScore, KEYS[3] byUpdated, KEYS[4] deep); stageKey and activityKey the
-- per-stage indexes by stage name.
local function mergeAway(KEYS, id, lead, list, drained, byLastEvent, stageKey, activityKey)
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', byLastEvent, id)
  for _, key in pairs(stageKey) do redis.call('ZREM', key, id) end
  for _, key in pairs(activityKey) do redis.call('ZREM', key, id) end
  redis.call('DEL', lead)
  if drained > 0 then redis.call('LTRIM', list, drained, -1) end
  if redis.call('LLEN', list) == 0 then redis.call('HDEL', KEYS[4], id) end
end

-- A merge's record, written by the same call as the merged lead's removal (mode 'm' of commit-leads) and only with it:
-- the root's merged-from list gains the merged id with the events it brought itself, and the ids merged into it before
-- with their counts (they resolve to the root now), as a rebuild lays the lists out from `identities`; the root's merge
-- log gains the merge's record and the merged id's own records; its re-score log the merged id's records, each under
-- `<version>:<merged id>` (those the merged id carried keep their field: live/src/rescore-log.ts); the merged id's
-- lists and logs are deleted, and its search text goes with its profile, so a `q` or `company` search finds only the
-- root. One step with the removal, so no stop of the worker leaves a merge removed and unrecorded.
-- logs: the merged lead's merged-from list, merge log and re-score log, its root's three, then the search texts;
-- record: the merge's `MergeRecord` JSON; brought: the events the merged lead brought, its earlier merges' included.
local function mergeRecord(logs, id, record, brought)
  local mergedFrom, mergeLog, rescoreLog = logs[1], logs[2], logs[3]
  local rootMergedFrom, rootMergeLog, rootRescoreLog, searchTexts = logs[4], logs[5], logs[6], logs[7]
  local carried = 0
  local counts = redis.call('HGETALL', mergedFrom)
  for j = 1, #counts, 2 do
    redis.call('HINCRBY', rootMergedFrom, counts[j], counts[j + 1])
    carried = carried + tonumber(counts[j + 1])
  end
  redis.call('HINCRBY', rootMergedFrom, id, math.max(0, brought - carried))
  local log = redis.call('HGETALL', mergeLog)
  for j = 1, #log, 2 do redis.call('HSET', rootMergeLog, log[j], log[j + 1]) end
  redis.call('HSET', rootMergeLog, id, record)
  local rescores = redis.call('HGETALL', rescoreLog)
  for j = 1, #rescores, 2 do
    local field = rescores[j]
    if not string.find(field, ':', 1, true) then field = field .. ':' .. id end
    redis.call('HSET', rootRescoreLog, field, rescores[j + 1])
  end
  redis.call('DEL', mergedFrom, mergeLog, rescoreLog)
  redis.call('HDEL', searchTexts, id)
end
