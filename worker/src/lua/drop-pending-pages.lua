-- Drops the pending copies of history pages written for commits that did not land (a lost compare-and-set, a lead the
-- deep lane took, a stale generation): such a page is never stored, so its copy goes at once, not after the sweep's
-- grace.
-- Takes as many keys as the call passes (the number of keys is given per call: two, then one per page).
-- KEYS[1]  the pages written and not yet released (`<prefix>:pages:pending`, id → document)
-- KEYS[2]  the pages being deleted (`<prefix>:pages:deleting`)
-- KEYS[3…] the hash of each page's lead, one per page, in the order of the pages
-- ARGV[1]  the lead hash's page-list field
-- ARGV[2]  the lead hash's idle mark
-- ARGV[3…] pairs: a page id, then the copy its writer held (as stored in KEYS[1])
-- Reply: how many copies were dropped.
-- Guarantee: atomic with every commit and with the sweep's claim: a copy is dropped only while no lead names its page
-- (a page's id follows from its content, so another writer's commit may name the same page), the page is not being
-- deleted (the sweep puts a named one back from its copy), and the copy is the one this writer held (another writer
-- holding the same content since holds a copy of its own, written at its own time, which stays).
--- @include "includes/page-named"
local dropped = 0
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local lead = KEYS[(i - 3) / 2 + 3]
  if redis.call('HGET', KEYS[1], id) == ARGV[i + 1]
    and not redis.call('ZSCORE', KEYS[2], id)
    and not pageNamed(lead, ARGV[1], ARGV[2], id) then
    redis.call('HDEL', KEYS[1], id)
    dropped = dropped + 1
  end
end
return dropped
