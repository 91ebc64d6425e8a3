-- What the search scripts share: whether a text holds every word of a query, and a step's reply.
-- A search text (spelled in live/src/search-index.ts) is the lead's company in lower case, then its id, name, email
-- and company folded (no case, no diacritics), the five joined by NUL. Words never hold a NUL (the edge refuses
-- control characters in `q`), so a word found past the first NUL lies within one of the folded fields.

-- Whether every word (ARGV from `first` on) is a plain substring of `text` from byte `from` on.
local function searchHasWords(text, first, from)
  for i = first, #ARGV do
    if not string.find(text, ARGV[i], from, true) then return false end
  end
  return true
end

-- A step's reply: the next cursor, then for each of `ids` that has a live state (a rank in `byScore`): its id, rank
-- key and value in `sortIndex` (the index the search is sorted by, maybe `byScore` itself), or '' for an idle lead,
-- which a global activity index leaves out (live/src/idle.ts). One ZMSCORE per index.
local function searchReply(cursor, ids, byScore, sortIndex)
  local out = { cursor }
  if #ids == 0 then return out end
  local ranks = redis.call('ZMSCORE', byScore, unpack(ids))
  local values = ranks
  if sortIndex ~= byScore then values = redis.call('ZMSCORE', sortIndex, unpack(ids)) end
  for i = 1, #ids do
    if ranks[i] then
      out[#out + 1] = ids[i]
      out[#out + 1] = ranks[i]
      out[#out + 1] = values[i] or ''
    end
  end
  return out
end
