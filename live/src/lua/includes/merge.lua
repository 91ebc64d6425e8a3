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
