-- Claims event ids for the de-duplication window and queues the fresh events as one Bull job, in one step: the
-- one-call form of `claim-ids.lua` + Bull's addJob + `confirm-ids.lua`, for a deployment whose dedupe buckets and
-- events queue share a hash slot (one lead partition). Being one script, no id is ever marked without its event
-- queued, nor queued without its mark, so marks are written seen for the whole window at once (never pending).
-- Takes as many keys as the call passes (the number of keys is given per call).
-- KEYS[1]  the queue's wait list
-- KEYS[2]  the queue's paused list
-- KEYS[3]  the queue's meta-paused key
-- KEYS[4]  the queue's job id counter
-- KEYS[5…] one bucket per event, in order (a bucket may repeat)
-- ARGV[1]  the de-duplication window, seconds
-- ARGV[2]  the queue's key prefix (`<prefix>:events:`), which a job id completes into the job's hash
-- ARGV[3]  the queue's token (Bull announces a waiting job on `<wait>ing@<token>`)
-- ARGV[4]  the job's timestamp, ms
-- ARGV[5]  the job's options, JSON
-- ARGV[6…] per event, in order: its field in its bucket, then the event as JSON
-- Reply: the new job's id (0 when every event was seen or pending), then one number per event, in order: 1 queued
-- by this call, 0 seen (queued before, or earlier in this call), 2 pending (claimed by a two-step claim not queued
-- yet: the caller waits for it as `claim-ids.lua`'s callers do).
-- Guarantee: reads every mark before any write, and writes the job before the marks, so a write refused at the start
-- (Redis out of memory) fails the call with nothing written, and the caller answers 503. The job is written as Bull's
-- addJob writes a job without delay, priority or custom id: the worker cannot tell them apart.
--- @include "includes/dedupe-clock"
local rcall = redis.call
local now = dedupe_now()
local out = { 0 }
local fresh = {}
local freshAt = {}
local here = {}
for i = 5, #KEYS do
  local key, field = KEYS[i], ARGV[2 * i - 4]
  local state = dedupe_state(rcall('HGET', key, field), now)
  local slot = key .. '\0' .. field
  if state == 1 or here[slot] then out[i - 3] = 0
  elseif state == 2 then out[i - 3] = 2
  else
    here[slot] = true
    out[i - 3] = 1
    fresh[#fresh + 1] = ARGV[2 * i - 3]
    freshAt[#freshAt + 1] = i
  end
end
if #fresh == 0 then return out end

local jobId = rcall('INCR', KEYS[4])
rcall('HSET', ARGV[2] .. jobId, 'name', '__default__', 'data', '{"v":1,"events":[' .. table.concat(fresh, ',') .. ']}',
  'opts', ARGV[5], 'timestamp', ARGV[4], 'delay', 0, 'priority', 0)
local target = KEYS[1]
if rcall('EXISTS', KEYS[3]) == 1 then target = KEYS[2] end
rcall('LPUSH', target, jobId)
rcall('PUBLISH', KEYS[1] .. 'ing@' .. ARGV[3], jobId)

out[1] = jobId
local until_ = now + tonumber(ARGV[1])
for _, i in ipairs(freshAt) do rcall('HSET', KEYS[i], ARGV[2 * i - 4], until_) end
return out
