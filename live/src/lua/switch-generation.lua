-- Switches the live state to the generation a rebuild laid out beside it, one step a call: drops the previous
-- generation's keys given, moves the next one's given into their places and, in the last step, names the new
-- generation.
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS     the generation key; then the previous generation's keys to drop (ARGV[3] of them); then pairs: a key of the
--          next generation, the live key it becomes (ARGV[4] pairs)
-- ARGV[1]  the generation the rebuild set while it ran (`rebuilding:<random>`)
-- ARGV[2]  the generation to name, or '' to move keys only (a step before the last)
-- ARGV[3]  how many keys to drop
-- ARGV[4]  how many keys to move
-- Reply: 1 when switched; 0 when the generation was no longer ARGV[1] (another rebuild began, or the live keys were
-- deleted meanwhile), and then nothing is touched.
-- Guarantee: each call atomic, and a no-op once the generation is not the rebuild's own mark. The caller moves the
-- leads' own keys in steps of a bounded size first, then the indexes and the generation in one last call, so that
-- call's work does not grow with the number of leads. Dropped keys are unlinked (a large index is freed in the
-- background).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local dropped = tonumber(ARGV[3])
local moved = tonumber(ARGV[4])
for i = 2, dropped + 1 do
  redis.call('UNLINK', KEYS[i])
end
local first = dropped + 2
for i = 0, moved - 1 do
  redis.call('RENAME', KEYS[first + 2 * i], KEYS[first + 2 * i + 1])
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
