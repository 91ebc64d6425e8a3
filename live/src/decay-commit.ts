// The commit of stage changes caused by time alone (`lua/commit-decay-crossings.lua`): what the decay ticker
// (worker/src/decay-ticker.ts) writes for each lead that decayed below a threshold.
import { STAGES, type Stage } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { type LiveKeys, stageMoveKeys } from "./keys.ts";
import { encodeMovementEvent, MOVEMENT_CAP, MOVEMENT_WINDOW_MS } from "./movements.ts";

// Its KEYS, ARGV and reply: `lua/commit-decay-crossings.lua`.
const COMMIT_DECAY_CROSSINGS = redisScript<string | string[]>(
  new URL("./lua/commit-decay-crossings.lua", import.meta.url),
);

export interface DecayCrossingCommit {
  leadId: string;
  /** The lead's version as read. */
  expected: number;
  /** The stage it decayed to. */
  stage: Stage;
  /** Its score at the crossing instant. */
  score: number;
  /** The crossing instant (epoch ms). */
  at: number;
  /** The id of the history's decay entry for it: `decay:<stage reached>`. */
  eventId: string;
  /** `[channel, message]` pairs published when the commit lands (its `score_update`). */
  messages: [string, Buffer][];
}

export type DecayCrossingOutcome = "committed" | "conflict" | "same";

const OUTCOMES: Record<string, DecayCrossingOutcome> = { o: "committed", c: "conflict", s: "same" };

/** Thrown when the ticker's lock was taken from the caller: nothing was written. */
export class DecayLockLostError extends Error {
  override name = "DecayLockLostError";
}

/** Commits the crossings under the ticker's lock (`token`), and sets `through` when given. */
export async function commitDecayCrossings(
  redis: Redis,
  keys: LiveKeys,
  token: string,
  through: number | null,
  crossings: readonly DecayCrossingCommit[],
): Promise<DecayCrossingOutcome[]> {
  const keyList = [
    keys.decayLock,
    keys.decayThrough,
    ...stageMoveKeys(keys),
    ...STAGES.map((stage) => keys.movedInto(stage)),
  ];
  const args: (string | number | Buffer)[] = [
    token,
    through === null ? "" : String(through),
    STAGES.length,
    ...STAGES,
    MOVEMENT_WINDOW_MS,
    MOVEMENT_CAP,
  ];
  for (const crossing of crossings) {
    keyList.push(keys.lead(crossing.leadId));
    args.push(
      crossing.leadId,
      String(crossing.expected),
      crossing.stage,
      String(crossing.score),
      String(crossing.at),
      crossing.eventId,
      encodeMovementEvent({
        event_id: crossing.eventId,
        event_type: "decay",
        timestamp: crossing.at,
        score: crossing.score,
      }),
      crossing.messages.length,
    );
    for (const [channel, message] of crossing.messages) args.push(channel, message);
  }
  const reply = await COMMIT_DECAY_CROSSINGS.run(redis, keyList, args);
  if (reply === "lost") throw new DecayLockLostError("the decay ticker's lock is no longer this process's");
  return (reply as string[]).map((code) => OUTCOMES[code] ?? "conflict");
}
