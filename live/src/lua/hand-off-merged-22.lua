-- Hands a lead merged into a root of another lead partition over to that partition (identity.ts): the first step of a
-- merge across partitions. Takes the merged lead out of this partition — out of every index, its hash, its deep-lane
-- list, its merged-from list, merge log, re-score log and alias set, its search text — and keeps all of it, with its
-- root, as one hand-off in the `handOff` hash until the root's partition has taken it (`import-merged-10.lua`). A
-- hand-off is never changed while it waits: a lead still waiting is not handed off again.
-- KEYS     gen, byScore, byUpdated, deep, lead(from), deepEvents(from), byLastEvent, searchTexts, mergedFrom(from),
--          mergeLog(from), rescoreLog(from), aliasesOf(from), aliases, handOff, then byUpdatedIn(stage) for each of
--          the 4 stages, then byLastEventIn(stage) for each
-- ARGV     gen, from, root
-- Reply:   'stale' (the generation is not ARGV[1]: nothing written), 'waiting' (a hand-off of `from` waits already:
--          nothing written), 'moved' (`from` no longer resolves to ARGV[3]: nothing written), else the hand-off, JSON:
--          { n: its number, root, lead: [field, value, …], events: [deep-lane event, …], mergedFrom: [id, count, …],
--          mergeLog: [id, record, …], rescoreLog: [field, record, …], aliases: [id, …] }.
-- Guarantee: atomic; what the lead held leaves this partition only into its hand-off, whose number grows with each
-- hand-off of the same id, so the root's partition takes each once.
--- @include "includes/merge"

if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'stale' end
local from, root = ARGV[2], ARGV[3]
if redis.call('HGET', KEYS[13], from) ~= root then return 'moved' end
if redis.call('HEXISTS', KEYS[14], from) == 1 then return 'waiting' end
local stageKey, activityKey = {}, {}
for s = 15, 18 do stageKey[s] = KEYS[s] end
for s = 19, 22 do activityKey[s] = KEYS[s] end
local events = redis.call('LRANGE', KEYS[6], 0, -1)
local handOff = {
  n = redis.call('HINCRBY', KEYS[14], '#' .. from, 1),
  root = root,
  lead = redis.call('HGETALL', KEYS[5]),
  events = events,
  mergedFrom = redis.call('HGETALL', KEYS[9]),
  mergeLog = redis.call('HGETALL', KEYS[10]),
  rescoreLog = redis.call('HGETALL', KEYS[11]),
  aliases = redis.call('SMEMBERS', KEYS[12]),
}
local encoded = cjson.encode(handOff)
redis.call('HSET', KEYS[14], from, encoded)
mergeAway(KEYS, from, KEYS[5], KEYS[6], #events, KEYS[7], stageKey, activityKey)
redis.call('HDEL', KEYS[4], from)
redis.call('DEL', KEYS[9], KEYS[10], KEYS[11], KEYS[12])
redis.call('HDEL', KEYS[8], from)
return encoded
