-- A delivery's member in its subscription's queue (`:q`): `<lead id> <delivery id padded to ID_DIGITS>`, so the
-- lexical order gives each lead's queue, oldest first. ID_DIGITS agrees with webhooks/src/scripts.ts (a unit test).
local ID_DIGITS = 15
local function pad(id) return string.rep('0', ID_DIGITS - #id) .. id end
local function member(lead, id) return lead .. ' ' .. pad(id) end
