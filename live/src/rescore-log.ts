// The re-scores that moved a lead, as its history shows them (`keys.rescoreLog`): one small record per retroactive
// version whose re-score changed the lead's score or stage, written by the re-score's commit script in the same atomic
// step as the lead's new state (lua/commit-rescore.lua), read beside the lead by the history route, which derives an
// entry from each at read time, as it does for merges.
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

export interface RescoreRecord {
  /** The version published retroactively (the hash field). */
  version: number;
  /** The newest version that had scored the lead's events before (null: only rules that predate versions). */
  from: number | null;
  /** When the re-score committed the lead (epoch ms). */
  at: number;
  /** The lead's score and stage just before and just after its re-score. */
  scoreBefore: number;
  scoreAfter: number;
  stageBefore: string;
  stageAfter: string;
}

/** The wire form the commit script writes: `cjson` of these fields. */
interface RescoreWire {
  from: number | null;
  at: number;
  before: number;
  after: number;
  sb: string;
  sa: string;
}

export function decodeRescoreRecord(version: string, wire: string): RescoreRecord {
  const { from, at, before, after, sb, sa } = JSON.parse(wire) as RescoreWire;
  return {
    version: Number(version),
    from: typeof from === "number" ? from : null,
    at,
    scoreBefore: before,
    scoreAfter: after,
    stageBefore: sb,
    stageAfter: sa,
  };
}

/** Every re-score that moved `leadId`, oldest first. */
export async function rescoreRecords(redis: Redis, keys: LiveKeys, leadId: string): Promise<RescoreRecord[]> {
  const log = await redis.hgetall(keys.rescoreLog(leadId));
  return Object.entries(log)
    .map(([version, wire]) => decodeRescoreRecord(version, wire))
    .sort((a, b) => a.at - b.at || a.version - b.version);
}
