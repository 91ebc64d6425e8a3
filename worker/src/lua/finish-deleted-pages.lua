-- Ends the sweep's delete of claimed history pages: each leaves the deleting set, and one a commit named meanwhile
-- is handed back with the copy its writer kept, for the sweep to insert again.
-- Takes as many keys as the call passes (the number of keys is given per call: two, then one per page).
-- KEYS[1]  the pages being deleted (`<prefix>:pages:deleting`)
-- KEYS[2]  the pages written and not yet released (`<prefix>:pages:pending`, id → document)
-- KEYS[3…] the hash of each page's lead, one per id, in the order of the ids
-- ARGV[1]  the lead hash's page-list field
-- ARGV[2]  the lead hash's idle mark
-- ARGV[3…] the page ids the sweep deleted
-- Reply: a flat list of id, document (or false when no copy is pending) for every page a lead names now.
-- Guarantee: atomic with every commit and release: a page named after its claim has its copy pending until the sweep
-- inserted it again (the copy is released after the insert, not here).
--- @include "includes/page-named"
local named = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  redis.call('ZREM', KEYS[1], id)
  if pageNamed(KEYS[i], ARGV[1], ARGV[2], id) then
    named[#named + 1] = id
    named[#named + 1] = redis.call('HGET', KEYS[2], id)
  end
end
return named
