-- One step of a search over lead ids: the next entries of the score index whose id, in lower case, holds every word,
-- placed. It is for the leads that have no search text (only events created them); a lead with a text that it finds,
-- the texts' step finds too (its text holds its id), so the caller merges the two without asking which is which.
-- KEYS[1]  byScore
-- KEYS[2]  the index the search is sorted by (byScore, byUpdated or byLastEvent)
-- ARGV[1]  ZSCAN cursor ('0' to start)
-- ARGV[2]  ZSCAN COUNT
-- ARGV[3…] the words of `q`, folded (ids are ASCII: folding is lower case, which string.lower does alike)
-- Reply: { next cursor ('0' when done), then for each match: id, rank key, value in KEYS[2] }.
-- Guarantee: read-only; one step looks at about ARGV[2] entries of the index and reads the matches' values in KEYS[2]
-- with one ZMSCORE.
--- @include "includes/search"

local step = redis.call('ZSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local entries = step[2]
local ids = {}
for i = 1, #entries, 2 do
  if searchHasWords(string.lower(entries[i]), 3, 1) then ids[#ids + 1] = entries[i] end
end
return searchReply(step[1], ids, KEYS[1], KEYS[2])
