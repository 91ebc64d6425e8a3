-- Whether a lead's hash names a history page: its page list holds the id (each ref is a JSON array whose first item
-- is the id in quotes, and an id holds no quote), or the lead is idle (its page list is in its archive, so its pages
-- are kept). `lead` is the lead's hash key, `pagesField` and `idleField` the hash's field names.
local function pageNamed(lead, pagesField, idleField, id)
  local read = redis.call('HMGET', lead, pagesField, idleField)
  if read[2] then
    return true
  end
  return read[1] ~= false and string.find(read[1], '"' .. id .. '"', 1, true) ~= nil
end
