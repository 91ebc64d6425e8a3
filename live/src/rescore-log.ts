// The re-scores that moved a lead, as its history shows them (`keys.rescoreLog`): one small record per retroactive
// version whose re-score changed the lead's score or stage, written by the re-score's commit script in the same atomic
// step as the lead's new state (lua/commit-rescore.lua), read beside the lead by the history route, which derives an
// entry from each at read time, as it does for merges.
//
// The log is kept in MongoDB too (`rescore_log`, one document per version and lead, inserted once the commit returned),
// so a rebuild lays it out again. A merge carries the merged lead's records into its root's log (lua/includes/merge.lua),
// each under `<version>:<merged id>`, as a rebuild lays them out from the merged id's documents: the root's history
// holds the merged lead's events, and shows when a re-score moved them, and by how much, under that id.
import { type RescoreLogDocument, rescoreLogId } from "@leadscore/contracts";
import type { Redis } from "ioredis";
import type { LiveKeys } from "./keys.ts";

export interface RescoreRecord {
  /** The version published retroactively. */
  version: number;
  /** The lead merged into this one that the re-score moved, under its own id (null: this lead itself). */
  merged: string | null;
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
  from?: number | null;
  at: number;
  before: number;
  after: number;
  sb: string;
  sa: string;
}

/** A record's field in the log: its version, then the merged lead's id for a record a merge carried over. */
export function rescoreLogField(record: Pick<RescoreRecord, "version" | "merged">): string {
  return record.merged === null ? String(record.version) : `${record.version}:${record.merged}`;
}

export function decodeRescoreRecord(field: string, wire: string): RescoreRecord {
  const { from, at, before, after, sb, sa } = JSON.parse(wire) as RescoreWire;
  const colon = field.indexOf(":");
  return {
    version: Number(colon < 0 ? field : field.slice(0, colon)),
    merged: colon < 0 ? null : field.slice(colon + 1),
    from: typeof from === "number" ? from : null,
    at,
    scoreBefore: before,
    scoreAfter: after,
    stageBefore: sb,
    stageAfter: sa,
  };
}

export function encodeRescoreRecord(record: RescoreRecord): string {
  const wire: RescoreWire = {
    from: record.from,
    at: record.at,
    before: record.scoreBefore,
    after: record.scoreAfter,
    sb: record.stageBefore,
    sa: record.stageAfter,
  };
  return JSON.stringify(wire);
}

/** A record as MongoDB keeps it, under the id of the lead the re-score moved (`merged`, when it was merged since). */
export function rescoreLogDocument(leadId: string, record: RescoreRecord): RescoreLogDocument {
  const lead = record.merged ?? leadId;
  return {
    _id: rescoreLogId(record.version, lead),
    version: record.version,
    lead_id: lead,
    from: record.from,
    at: new Date(record.at),
    score_before: record.scoreBefore,
    score_after: record.scoreAfter,
    stage_before: record.stageBefore,
    stage_after: record.stageAfter,
  };
}

/** A stored record as the log of `leadId` holds it: carried over when it was recorded under another id. */
export function rescoreRecordOf(leadId: string, doc: RescoreLogDocument): RescoreRecord {
  return {
    version: doc.version,
    merged: doc.lead_id === leadId ? null : doc.lead_id,
    from: doc.from,
    at: new Date(doc.at).getTime(),
    scoreBefore: doc.score_before,
    scoreAfter: doc.score_after,
    stageBefore: doc.stage_before,
    stageAfter: doc.stage_after,
  };
}

/** Every re-score that moved `leadId` (or a lead merged into it), oldest first. */
export async function rescoreRecords(redis: Redis, keys: LiveKeys, leadId: string): Promise<RescoreRecord[]> {
  const log = await redis.hgetall(keys.rescoreLog(leadId));
  return Object.entries(log)
    .map(([field, wire]) => decodeRescoreRecord(field, wire))
    .sort((a, b) => a.at - b.at || a.version - b.version || (a.merged ?? "").localeCompare(b.merged ?? ""));
}
