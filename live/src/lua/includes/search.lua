-- What the search scripts share: matching a search text against the words of a query, and a match's reply.
-- A search text (spelled in live/src/search-index.ts) is the lead's company in lower case, then its id, name, email
-- and company folded (no case, no diacritics), the five joined by NUL. Words never hold a NUL (the edge refuses
-- control characters in `q`), so a word found in the joined text lies within one field.

-- Whether every word (ARGV from `first` on) is a plain substring of `text`.
local function searchHasWords(text, first)
  for i = first, #ARGV do
    if not string.find(text, ARGV[i], 1, true) then return false end
  end
  return true
end

-- Appends a match to `out`: its id, its rank key (nil: the lead has no live state, left out) and its value in the
-- index the search is sorted by (`byScore`, or `sortIndex` when that is another).
local function searchAppend(out, id, byScore, sortIndex)
  local rank = redis.call('ZSCORE', byScore, id)
  if not rank then return end
  local value = rank
  if sortIndex ~= byScore then value = redis.call('ZSCORE', sortIndex, id) or '0' end
  out[#out + 1] = id
  out[#out + 1] = rank
  out[#out + 1] = value
end
