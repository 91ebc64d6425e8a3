// A lead's profile in the live state, written by the API after MongoDB took it (MongoDB's insert decides who gets a
// profile first). A lead no event has reached yet gets a live state of score 0, so lists and counts show it.
import type { Stage } from "@leadscore/contracts";
import type { Redis } from "ioredis";
import type { Profile } from "./codec.ts";
import type { LiveKeys } from "./keys.ts";

// KEYS: lead, byScore, byUpdated, byUpdatedIn(zero stage), webhook outbox, its `wants`. ARGV: id, name, email,
// company, now, zero rank key, zero stage, prefix of the stage index keys. Returns 1 when the lead already had a
// live state. A lead created here is created for webhooks too (`lead.created`, as the commit script records it).
const SET_PROFILE = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'email', ARGV[3], 'company', ARGV[4], 'ua', ARGV[5])
if existed == 0 then
  redis.call('HSET', KEYS[1], 'v', '0', 's', '0', 'st', ARGV[7], 'n', '0', 'ca', ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
  if string.find(redis.call('GET', KEYS[6]) or '', 'c', 1, true) then
    redis.call('XADD', KEYS[5], '*', 'type', 'lead.created', 'lead', ARGV[1], 'from', '', 'to', ARGV[7], 'score', '0',
      'prev', '', 'event', '', 'etype', '', 'at', ARGV[5], 'rank', tostring(redis.call('ZRANK', KEYS[2], ARGV[1]) + 1))
  end
else
  local stage = redis.call('HGET', KEYS[1], 'st') or ARGV[7]
  redis.call('ZADD', ARGV[8] .. stage, ARGV[5], ARGV[1])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return existed
`;

interface ProfileRedis extends Redis {
  leadscoreSetProfile(keys: number, ...args: (string | number)[]): Promise<number>;
}

/** Sets a lead's profile; resolves with whether the lead already had a live state (events, or an earlier write). */
export async function setProfile(
  redis: Redis,
  keys: LiveKeys,
  leadId: string,
  profile: Profile,
  at: number,
  zero: { rankKey: number; stage: Stage },
): Promise<boolean> {
  const scripted = redis as ProfileRedis;
  if (typeof scripted.leadscoreSetProfile !== "function") {
    redis.defineCommand("leadscoreSetProfile", { lua: SET_PROFILE });
  }
  const stagePrefix = keys.byUpdatedIn(zero.stage).slice(0, -zero.stage.length);
  const existed = await scripted.leadscoreSetProfile(
    6,
    keys.lead(leadId),
    keys.byScore,
    keys.byUpdated,
    keys.byUpdatedIn(zero.stage),
    keys.outbox.stream,
    keys.outbox.wants,
    leadId,
    profile.name ?? "",
    profile.email ?? "",
    profile.company ?? "",
    at,
    zero.rankKey,
    zero.stage,
    stagePrefix,
  );
  return existed === 1;
}
