-- The de-duplication window's clock and marks, shared by `claim-ids.lua`, `confirm-ids.lua` and `sweep-ids.lua`.
-- A bucket is a hash of field = mark: the second the mark expires, counted from DEDUPE_EPOCH (negative while the
-- claim is pending). Marks carry their own expiry; the sweep removes expired ones, and a bucket whose marks are all
-- gone is gone with them (Redis deletes an empty hash).

local DEDUPE_EPOCH = 1767225600

-- Seconds since DEDUPE_EPOCH, by Redis' own clock (every edge agrees on it).
local function dedupe_now()
  return tonumber(redis.call('TIME')[1]) - DEDUPE_EPOCH
end

-- What a mark read back (`false` when absent) says at `now`: 1 seen, 2 pending, 0 absent or expired.
local function dedupe_state(mark, now)
  if not mark then return 0 end
  local at = tonumber(mark)
  if at < 0 then
    if -at > now then return 2 end
  elseif at > now then
    return 1
  end
  return 0
end
