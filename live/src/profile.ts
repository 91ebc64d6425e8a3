// A lead's profile in the live state, written by the API after MongoDB took it (MongoDB's insert decides who gets a
// profile first). A lead no event has reached yet gets a live state of score 0, so lists and counts show it.
import type { Stage } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Profile } from "./codec.ts";
import type { LiveKeys } from "./keys.ts";
import { searchText } from "./search-index.ts";

const SET_PROFILE = redisScript<number>(new URL("./lua/set-profile-9.lua", import.meta.url));

/** Sets a lead's profile and its search text; resolves with whether the lead already had a live state (events, or an earlier write). */
export async function setProfile(
  redis: Redis,
  keys: LiveKeys,
  leadId: string,
  profile: Profile,
  at: number,
  zero: { rankKey: number; stage: Stage },
): Promise<boolean> {
  const stagePrefix = keys.byUpdatedIn(zero.stage).slice(0, -zero.stage.length);
  const existed = await SET_PROFILE.run(
    redis,
    [
      keys.lead(leadId),
      keys.byScore,
      keys.byUpdated,
      keys.byUpdatedIn(zero.stage),
      keys.outbox.stream,
      keys.outbox.wants,
      keys.byLastEvent,
      keys.byLastEventIn(zero.stage),
      keys.searchTexts,
    ],
    [
      leadId,
      profile.name ?? "",
      profile.email ?? "",
      profile.company ?? "",
      at,
      zero.rankKey,
      zero.stage,
      stagePrefix,
      searchText(leadId, profile),
    ],
  );
  return existed === 1;
}
