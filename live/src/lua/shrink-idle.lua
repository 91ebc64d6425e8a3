-- Sheds an idle lead's history fields, once the worker has archived them to MongoDB, and takes the lead out of the
-- global activity indexes (live/src/idle.ts).
-- Takes as many keys as the call passes (the number of keys is given per call: the number of stages decides it).
-- KEYS     the lead's hash, the deep-lane hash (leads the deep lane owns), byUpdated, byLastEvent,
--          byUpdatedIn(stage) for each stage, byLastEventIn(stage) for each stage
-- ARGV[1]  the lead's id
-- ARGV[2]  the version the archive was read at
-- ARGV[3]  the mark naming the archive (`<version>|<random>`), kept in the `idle` field
-- ARGV[4]  the number of stages, then the stage names (in the order of their keys)
-- ARGV[…]  the stored names of the fields to shed
-- Reply: 1 shed, 0 left as it was (its version moved, it is idle already, or the deep lane owns it).
-- Guarantee: the fields shed are exactly the ones archived (the version compare), and the version moves on, so a
-- commit planned on the whole state before the shed fails its compare-and-set and plans again (restoring first).
-- What is left is written anew: a hash keeps the table encoding its large fields gave it after they are deleted,
-- and a fresh one of small fields is a listpack, a third of the size. A global activity entry goes only when the
-- lead's stage index holds it at the same value, so every lead stays in its stage's indexes and the stage indexes
-- merged give every activity order (reader.ts).
--- @include "includes/stage-indexes"

if redis.call('HGET', KEYS[1], 'v') ~= ARGV[2] then return 0 end
if redis.call('HEXISTS', KEYS[1], 'i') == 1 then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local stages = tonumber(ARGV[4])
local updatedIn, activityIn = stageIndexes(stages, 4, 4)
redis.call('HDEL', KEYS[1], unpack(ARGV, 5 + stages))
local rest = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(rest))
redis.call('HSET', KEYS[1], 'i', ARGV[3], 'v', tostring(tonumber(ARGV[2]) + 1))
local stage = redis.call('HGET', KEYS[1], 'st')
local function leave(global, inStage)
  local value = redis.call('ZSCORE', global, ARGV[1])
  if value and inStage and redis.call('ZSCORE', inStage, ARGV[1]) == value then redis.call('ZREM', global, ARGV[1]) end
end
leave(KEYS[3], stage and updatedIn[stage])
leave(KEYS[4], stage and activityIn[stage])
return 1
