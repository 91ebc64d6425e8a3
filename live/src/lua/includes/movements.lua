-- Movements: which leads entered which stage, and when. One Redis stream per stage entered, written by the commit
-- script in the same atomic step as the stage change; spelled for TypeScript in live/src/movements.ts.
--
-- An entry's fields: `lead` (id), `from` (the stage left), `at` (the commit's time, ms) and `e`, the event that moved
-- the lead as the worker passed it ('[event_id, event_type, timestamp, score]', JSON kept as it came: the script never
-- decodes it). Each stream is bounded twice: MAXLEN ~ `cap` entries, and MINID ~ now - `window` (older entries go).
-- An entry's id is Redis's time when it was added (`*`), so the window is measured on Redis's clock, as readers
-- measure it (their `since` is an id); `at` is the worker's clock and only reported.

-- Appends a movement of lead `id` from stage `from` into the stream `key` (its stage's), then trims the stream.
local function movementRecord(key, id, from, at, event, window, cap)
  redis.call('XADD', key, 'MAXLEN', '~', cap, '*', 'lead', id, 'from', from, 'at', at, 'e', event)
  local now = redis.call('TIME')
  local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - window
  redis.call('XTRIM', key, 'MINID', '~', string.format('%d', math.max(0, oldest)))
end
