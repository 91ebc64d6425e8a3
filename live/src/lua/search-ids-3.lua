-- One step of a search over the ids of leads that have no search text (leads only events created, no profile yet):
-- the next entries of the score index whose id holds every word of `q`.
-- KEYS[1]  byScore
-- KEYS[2]  the search texts (a lead found there is the texts' step's to match, not this one's)
-- KEYS[3]  the index the search is sorted by (byScore, byUpdated or byLastEvent)
-- ARGV[1]  ZSCAN cursor ('0' to start)
-- ARGV[2]  ZSCAN COUNT
-- ARGV[3]  a ZSCAN MATCH pattern for the first word, any case (`idGlob`): Redis skips the other ids itself
-- ARGV[4…] the words of `q`, folded (ids are ASCII: folding is lower case, which Lua's string.lower does alike)
-- Reply: { next cursor ('0' when done), then for each match: id, rank key, value in KEYS[3] }.
-- Guarantee: read-only; one step looks at about ARGV[2] entries of the index.
--- @include "includes/search"

local step = redis.call('ZSCAN', KEYS[1], ARGV[1], 'MATCH', ARGV[3], 'COUNT', ARGV[2])
local out = { step[1] }
local entries = step[2]
for i = 1, #entries, 2 do
  local id = entries[i]
  if searchHasWords(string.lower(id), 4) and redis.call('HEXISTS', KEYS[2], id) == 0 then
    searchAppend(out, id, KEYS[1], KEYS[3])
  end
end
return out
