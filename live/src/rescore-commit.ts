// The commit of a lead a retroactive publish re-scored (`lua/commit-rescore.lua`): its whole new state, compared and
// set on its version like every commit (worker/src/rescore.ts), and a record of the move (rescore-log.ts).
import { STAGES, type Stage } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import { type LeadHash, pushLeadHashPairs } from "./codec.ts";
import { StaleLiveStateError } from "./commit.ts";
import { type LiveKeys, stageMoveKeys } from "./keys.ts";
import { decodeRescoreRecord, type RescoreRecord } from "./rescore-log.ts";

// Its KEYS, ARGV and reply: `lua/commit-rescore.lua`.
const COMMIT_RESCORE = redisScript<string | string[]>(new URL("./lua/commit-rescore.lua", import.meta.url));

export interface RescoreCommit {
  leadId: string;
  /** The lead's version as read. */
  expected: number;
  fields: LeadHash;
  rankKey: number;
  stage: Stage;
  score: number;
  /** When the re-score committed it (epoch ms): its webhook message's time, and its re-score record's. */
  at: number;
  /** The newest rules version that had scored its events before (null: none), for its re-score record. */
  from: number | null;
  /** `[channel, message]` pairs published when the commit lands (its `score_update`). */
  messages: [string, Buffer][];
}

/** A lead's outcome: committed, with the record its re-score log gained (null: it did not move), or to read again. */
export type RescoreOutcome = { outcome: "committed"; record: RescoreRecord | null } | { outcome: "conflict" };

export interface RescoreCall {
  gen: string;
  /** The version published: named by the webhook messages. */
  version: number;
  /** Whether a lead whose stage moves gets a `lead.stage_changed` message. */
  send: boolean;
}

/** Commits re-scored leads in one script call; returns each lead's outcome, in order. */
export async function commitRescored(
  redis: Redis,
  keys: LiveKeys,
  call: RescoreCall,
  leads: readonly RescoreCommit[],
): Promise<RescoreOutcome[]> {
  if (leads.length === 0) return [];
  const keyList = [keys.gen, keys.byScore, keys.deep, keys.aliases, ...stageMoveKeys(keys)];
  const args: (string | number | Buffer)[] = [
    call.gen,
    call.send ? "1" : "0",
    String(call.version),
    STAGES.length,
    ...STAGES,
  ];
  for (const lead of leads) {
    keyList.push(keys.lead(lead.leadId), keys.rescoreLog(lead.leadId));
    args.push(
      lead.leadId,
      String(lead.expected),
      lead.rankKey,
      lead.stage,
      String(lead.score),
      String(lead.at),
      lead.from === null ? "" : String(lead.from),
      0,
      lead.messages.length,
    );
    // The field count goes before the fields: set once they are pushed.
    const countAt = args.length - 2;
    args[countAt] = pushLeadHashPairs(lead.fields, args);
    for (const [channel, message] of lead.messages) args.push(channel, message);
  }
  const reply = await COMMIT_RESCORE.run(redis, keyList, args);
  if (reply === "stale") throw new StaleLiveStateError("the live state was wiped or is being rebuilt");
  return (reply as string[]).map((code) => {
    if (code === "c") return { outcome: "conflict" };
    return { outcome: "committed", record: code === "o" ? null : decodeRescoreRecord(String(call.version), code) };
  });
}
