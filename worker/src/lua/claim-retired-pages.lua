-- Takes retired history pages out of the retired set for the sweep to delete: those no lead names now.
-- Takes as many keys as the call passes (the number of keys is given per call: two, then one per page).
-- KEYS[1]  the retired set (`<prefix>:pages:retired`, id → when retired)
-- KEYS[2]  the pages being deleted (`<prefix>:pages:deleting`, id → when claimed)
-- KEYS[3…] the hash of each page's lead, one per id, in the order of the ids
-- ARGV[1]  the lead hash's page-list field
-- ARGV[2]  the lead hash's idle mark
-- ARGV[3]  now (ms)
-- ARGV[4…] the page ids
-- Reply: the ids claimed (named by no lead, now in the deleting set); the others are only taken out of the retired set.
-- Guarantee: atomic with every commit: a page a commit names before this runs is kept; one named after it is in the
-- deleting set when its writer releases it, so the writer keeps its copy in `pages:pending` and the sweep puts the
-- page back after its delete (finish-deleted-pages.lua).
--- @include "includes/page-named"
local claimed = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  redis.call('ZREM', KEYS[1], id)
  if not pageNamed(KEYS[i - 1], ARGV[1], ARGV[2], id) then
    redis.call('ZADD', KEYS[2], ARGV[3], id)
    claimed[#claimed + 1] = id
  end
end
return claimed
