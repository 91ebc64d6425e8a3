-- Takes a hand-off (`hand-off-merged-22.lua`) into the root's lead partition: the second step of a merge across
-- partitions. The merged lead's hash, deep-lane list, merged-from list, merge log and re-score log are laid out here
-- under its id (in no index: no reader looks for that id in this partition), it resolves to the root here too, and
-- both are handed to this partition's deep lane, which folds the merged lead into its root as it folds a merge within
-- one partition: its commit moves the logs to the root's (includes/merge.lua `mergeRecord`, re-score records under
-- `<version>:<merged id>`), so the root's history reads the same whichever partition the merged lead came from.
-- A later hand-off of the same id (events that reached its old partition meanwhile) only adds its events to the list.
-- KEYS     gen, aliases, deep, lead(from), deepEvents(from), mergedFrom(from), mergeLog(from), rescoreLog(from),
--          aliasesOf(root), handedIn
-- ARGV     gen, from, the hand-off (JSON, as hand-off-merged-22 replies it)
-- Reply:   'stale' (the generation is not ARGV[1]: nothing written), 'ok' (taken), 'done' (this hand-off was taken
--          before: nothing written), 'moved:<root>' (the hand-off's root was merged into <root> meanwhile: nothing
--          written; hand it on there), 'loop' (the root resolves to `from`: nothing written), 'taken:<root>' (`from`
--          resolves here to another root: nothing written).
-- Guarantee: atomic; each hand-off is taken once, by its number.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'stale' end
local from = ARGV[2]
local handOff = cjson.decode(ARGV[3])
local root = handOff.root
local further = redis.call('HGET', KEYS[2], root)
if further == from or root == from then return 'loop' end
if further then return 'moved:' .. further end
if tonumber(redis.call('HGET', KEYS[10], from) or '0') >= handOff.n then return 'done' end
local current = redis.call('HGET', KEYS[2], from)
if current and current ~= root then return 'taken:' .. current end
-- In slices: unpack is bounded by Lua's stack.
local function each(items, step, call)
  for i = 1, #items, step do call(unpack(items, i, math.min(i + step - 1, #items))) end
end
if not current then
  if #handOff.lead > 0 then each(handOff.lead, 1000, function(...) redis.call('HSET', KEYS[4], ...) end) end
  if #handOff.mergedFrom > 0 then
    each(handOff.mergedFrom, 1000, function(...) redis.call('HSET', KEYS[6], ...) end)
  end
  if #handOff.mergeLog > 0 then each(handOff.mergeLog, 1000, function(...) redis.call('HSET', KEYS[7], ...) end) end
  -- Absent from a hand-off stored before hand-offs carried the re-score log.
  local rescoreLog = handOff.rescoreLog or {}
  if #rescoreLog > 0 then each(rescoreLog, 1000, function(...) redis.call('HSET', KEYS[8], ...) end) end
  redis.call('HSET', KEYS[2], from, root)
end
redis.call('SADD', KEYS[9], from)
if #handOff.aliases > 0 then each(handOff.aliases, 1000, function(...) redis.call('SADD', KEYS[9], ...) end) end
if #handOff.events > 0 then each(handOff.events, 1000, function(...) redis.call('RPUSH', KEYS[5], ...) end) end
redis.call('HSETNX', KEYS[3], from, 0)
redis.call('HSETNX', KEYS[3], root, 0)
redis.call('HSET', KEYS[10], from, handOff.n)
return 'ok'
