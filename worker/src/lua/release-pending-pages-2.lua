-- Drops the pending copies of history pages now stored in MongoDB, except those the sweep is deleting.
-- KEYS[1]  the pages written and not yet released (`<prefix>:pages:pending`, id → document)
-- KEYS[2]  the pages being deleted (`<prefix>:pages:deleting`)
-- ARGV     the page ids
-- Reply: how many copies were kept (their pages are being deleted: the sweep inserts them again if named).
-- Guarantee: atomic with the sweep's claim: a copy is dropped only while its page is not being deleted, so a page a
-- commit names is always either in MongoDB or pending.
local kept = 0
for _, id in ipairs(ARGV) do
  if redis.call('ZSCORE', KEYS[2], id) then
    kept = kept + 1
  else
    redis.call('HDEL', KEYS[1], id)
  end
end
return kept
