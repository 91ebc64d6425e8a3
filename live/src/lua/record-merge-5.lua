-- Records a merge in the live identity map: `from` resolves to `into` from now on, and so does every id that
-- resolved to `from` (the map stays one hop deep: path compression when a root is merged). Both leads are handed to
-- the deep lane (their commits then go to its lists), which folds `from`'s history into `into` and takes `from` out
-- of every index (worker/src/merge.ts). When `into` lies in another lead partition, only `from` is handed to this
-- partition's deep lane, which hands it over to the root's partition with the ids that resolved to it
-- (hand-off-merged-22.lua): `into`'s alias set is that partition's.
-- KEYS     gen, aliases (hash: id → root), aliasesOf(from) (set), aliasesOf(into) (set), deep (hash)
-- ARGV     gen, from, into, '1' when `into` lies in this lead partition (else '0')
-- Reply:   'stale' (the generation is not ARGV[1]: nothing written), 'ok' (recorded), 'same' (`from` already resolves
--          to `into`: nothing written), 'taken:<root>' (`from` already resolves to another root), 'moved:<root>'
--          (`into` is no root: it resolves to <root>; ask again with it), 'loop' (`into` is `from`).
-- Guarantee: atomic; a merged id is never merged again, no id resolves through more than one hop, and no id
-- resolves to itself.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'stale' end
local from, into = ARGV[2], ARGV[3]
local current = redis.call('HGET', KEYS[2], from)
if current then
  if current == into then return 'same' end
  return 'taken:' .. current
end
if from == into then return 'loop' end
local root = redis.call('HGET', KEYS[2], into)
if root == from then return 'loop' end
if root then return 'moved:' .. root end
local here = ARGV[4] ~= '0'
redis.call('HSET', KEYS[2], from, into)
for _, id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('HSET', KEYS[2], id, into)
  if here then redis.call('SADD', KEYS[4], id) end
end
redis.call('HSETNX', KEYS[5], from, 0)
if not here then return 'ok' end
redis.call('DEL', KEYS[3])
redis.call('SADD', KEYS[4], from)
redis.call('HSETNX', KEYS[5], into, 0)
return 'ok'
