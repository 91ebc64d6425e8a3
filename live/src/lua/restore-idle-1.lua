-- Gives an idle lead back the fields it shed (live/src/idle.ts), before anything folds it again.
-- KEYS     the lead's hash
-- ARGV[1]  the mark the lead's `idle` field holds (names its archive document)
-- ARGV[2…] field, value × the fields the document holds (stored names)
-- Reply: 1 restored, 0 nothing to do (not idle, or idle under another document).
-- Guarantee: only the shed named by ARGV[1] is undone, once; fields written since (score, stage, profile, version)
-- are left alone, since the shed fields are written by nothing but a commit, which restores first.
if redis.call('HGET', KEYS[1], 'i') ~= ARGV[1] then return 0 end
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
redis.call('HDEL', KEYS[1], 'i')
return 1
