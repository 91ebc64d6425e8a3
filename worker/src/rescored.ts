// The candidates retroactive publishes re-matched (contracts/src/rescore.ts), read for the leads a rescan or a
// rebuild folds from their stored events: one read by `_id` per (retroactive version, lead), the one read the
// embedded store answers without a scan, and none at all on a deployment that never re-scored.
import {
  applyRescored,
  COLLECTIONS,
  type RescoredCandidatesDocument,
  type RuleSetDocument,
  rescoredCandidatesId,
  type ScorableEvent,
} from "@leadscore/contracts";
import type { Db } from "mongodb";

/** The versions published retroactively (a scan of `rule_sets`, which holds one small document per version). */
export async function retroactiveVersions(db: Db, signal?: AbortSignal): Promise<number[]> {
  const docs = await db
    .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
    .find({ mode: "retroactive" }, { projection: { _id: 1 }, signal })
    .toArray();
  return docs.map((doc) => doc._id);
}

/** The re-matched candidates of `leadIds` under `versions`, by lead. */
export async function readRescored(
  db: Db,
  leadIds: readonly string[],
  versions: readonly number[],
): Promise<Map<string, RescoredCandidatesDocument[]>> {
  const byLead = new Map<string, RescoredCandidatesDocument[]>();
  if (versions.length === 0 || leadIds.length === 0) return byLead;
  const collection = db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates);
  const docs = await Promise.all(
    leadIds.flatMap((id) => versions.map((version) => collection.findOne({ _id: rescoredCandidatesId(version, id) }))),
  );
  for (const doc of docs) {
    if (doc === null) continue;
    byLead.set(doc.lead_id, [...(byLead.get(doc.lead_id) ?? []), doc]);
  }
  return byLead;
}

/** Each lead's stored events with the candidates the newest re-score of it gave them. */
export async function withRescored(
  db: Db,
  events: Map<string, ScorableEvent[]>,
  signal?: AbortSignal,
): Promise<Map<string, ScorableEvent[]>> {
  const versions = await retroactiveVersions(db, signal);
  const rescored = await readRescored(db, [...events.keys()], versions);
  if (rescored.size === 0) return events;
  return new Map([...events].map(([id, list]) => [id, applyRescored(list, rescored.get(id) ?? [])]));
}
