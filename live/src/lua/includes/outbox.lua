-- The webhook outbox, as scripts write and read it: a Redis stream of messages, one per change a subscription may
-- want, and a `wants` key holding the letters of the kinds some active subscription wants. Spelled for TypeScript in
-- live/src/outbox.ts; a unit test checks that the two agree.

-- Every field of a message, in the order a message is written.
local OUTBOX_FIELDS = { 'type', 'lead', 'from', 'to', 'score', 'prev', 'event', 'etype', 'at', 'rank' }

-- The letter of each kind of message in the `wants` key.
local OUTBOX_KIND_LETTERS = { ['lead.created'] = 'c', ['lead.stage_changed'] = 's', ['lead.score_changed'] = 'x', ['lead.merged'] = 'm' }

-- Whether `wants` (the wants key's value, '' when absent) asks for messages of `kind`.
local function outboxWants(wants, kind)
  return string.find(wants, OUTBOX_KIND_LETTERS[kind], 1, true) ~= nil
end

-- Appends a message (a table with every field of OUTBOX_FIELDS, each a string) to the stream.
local function outboxAppend(stream, message)
  local flat = {}
  for i, field in ipairs(OUTBOX_FIELDS) do
    local value = message[field]
    if value == nil then error('outbox message without ' .. field) end
    flat[2 * i - 1] = field
    flat[2 * i] = value
  end
  redis.call('XADD', stream, '*', unpack(flat))
end

-- A stream entry's fields (flat name, value pairs) as a table by name.
local function outboxRead(fields)
  local message = {}
  for i = 1, #fields, 2 do message[fields[i]] = fields[i + 1] end
  return message
end
