-- One step of a search over the leads' search texts: the next entries of the texts hash that match, placed.
-- KEYS[1]  the search texts (hash: lead id → search text)
-- KEYS[2]  byScore
-- KEYS[3]  the index the search is sorted by (byScore, byUpdated or byLastEvent)
-- ARGV[1]  HSCAN cursor ('0' to start)
-- ARGV[2]  HSCAN COUNT (entries looked at in this step, about)
-- ARGV[3]  part of the company, in lower case ('' for none)
-- ARGV[4…] the words of `q`, folded (none for a `company` search alone)
-- Reply: { next cursor ('0' when done), then for each match: id, rank key, value in KEYS[3] }; a text whose lead has
-- no live state is left out.
-- Guarantee: read-only; one step looks at about ARGV[2] entries (plain substring finds, in place) and reads the
-- matches' ranks with one ZMSCORE per index, so it stays short whatever the number of leads. Like any SCAN, an entry
-- present from start to end is returned at least once (the caller drops repeats); one added or changed meanwhile may
-- or may not be.
--- @include "includes/search"

local step = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local entries = step[2]
local company = ARGV[3]
local ids = {}
for i = 1, #entries, 2 do
  local text = entries[i + 1]
  local cut = string.find(text, '\0', 1, true) or (#text + 1)
  -- The company part ends at the first NUL: its first occurrence, if any, must end before it.
  local at = company == '' and 1 or string.find(text, company, 1, true)
  if at and at + #company <= cut and searchHasWords(text, 4, cut + 1) then ids[#ids + 1] = entries[i] end
end
return searchReply(step[1], ids, KEYS[2], KEYS[3])
