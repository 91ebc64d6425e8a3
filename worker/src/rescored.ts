// The candidates retroactive publishes re-matched (contracts/src/rescore.ts), read for the leads a rescan or a
// rebuild folds from their stored events, and the re-score log records a rebuild lays out again: one read by `_id` per
// (retroactive version, lead or id merged into it), the one read the embedded store answers without a scan, a few at
// once (findByIds), and none at all on a deployment that never re-scored.
import {
  applyRescored,
  COLLECTIONS,
  type RescoredCandidatesDocument,
  type RescoreLogDocument,
  type RuleSetDocument,
  rescoredCandidatesId,
  rescoredEventId,
  rescoreLogId,
  type ScorableEvent,
  scoredVersion,
} from "@leadscore/contracts";
import { type RescoreRecord, rescoreRecordOf } from "@leadscore/live";
import { findByIds } from "@leadscore/runtime";
import type { Collection, Db, WithId } from "mongodb";

/** The documents of these `_id`s that are stored, by `_id`: read a few at once (findByIds: there may be many). */
async function byId<T extends { _id: string }>(
  collection: Collection<T>,
  ids: readonly string[],
): Promise<Map<string, WithId<T>>> {
  return new Map((await findByIds(collection, ids)).map((doc) => [doc._id as string, doc]));
}

/** The versions published retroactively (a scan of `rule_sets`, which holds one small document per version). */
export async function retroactiveVersions(db: Db, signal?: AbortSignal): Promise<number[]> {
  const docs = await db
    .collection<RuleSetDocument>(COLLECTIONS.ruleSets)
    .find({ mode: "retroactive" }, { projection: { _id: 1 }, signal })
    .toArray();
  return docs.map((doc) => doc._id);
}

/**
 * The documents of `collection` stored for each of `leadIds` under each of `versions` (`_id` = `idOf(version, id)`),
 * by lead: its own, and those of the ids merged into it (`merged`), stored under their own id before their merge.
 */
async function readPerVersion<T extends { _id: string }>(
  collection: Collection<T>,
  idOf: (version: number, leadId: string) => string,
  leadIds: readonly string[],
  versions: readonly number[],
  merged: (leadId: string) => Iterable<string>,
): Promise<Map<string, WithId<T>[]>> {
  const wanted = leadIds.flatMap((id) =>
    [id, ...merged(id)].flatMap((stored) => versions.map((version) => ({ id, docId: idOf(version, stored) }))),
  );
  const found = await byId(
    collection,
    wanted.map(({ docId }) => docId),
  );
  const byLead = new Map<string, WithId<T>[]>();
  for (const { id, docId } of wanted) {
    const doc = found.get(docId);
    if (doc !== undefined) byLead.set(id, [...(byLead.get(id) ?? []), doc]);
  }
  return byLead;
}

/** The re-matched candidates of `leadIds` under `versions`, by lead (a merged id's too: `readPerVersion`). */
export function readRescored(
  db: Db,
  leadIds: readonly string[],
  versions: readonly number[],
  merged: (leadId: string) => Iterable<string> = () => [],
): Promise<Map<string, RescoredCandidatesDocument[]>> {
  const collection = db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates);
  return readPerVersion(collection, rescoredCandidatesId, leadIds, versions, merged);
}

/**
 * Each lead's stored events with the candidates the newest re-score of them gave them (`merged`: the ids merged into
 * a lead, as for `readRescored`).
 */
export async function withRescored(
  db: Db,
  events: Map<string, ScorableEvent[]>,
  signal?: AbortSignal,
  merged?: (leadId: string) => Iterable<string>,
): Promise<Map<string, ScorableEvent[]>> {
  const versions = await retroactiveVersions(db, signal);
  const rescored = await readRescored(db, [...events.keys()], versions, merged);
  const applied =
    rescored.size === 0
      ? events
      : new Map([...events].map(([id, list]) => [id, applyRescored(list, rescored.get(id) ?? [])]));
  return withMissedRescored(db, applied, versions);
}

/**
 * The events with the candidates a document of their own gives them (contracts/src/rescore.ts: an event a re-score
 * missed): looked for, by `_id`, only for an event scored by a version older than the newest published
 * retroactively — none once every re-score has ended, but those.
 */
export async function withMissedRescored(
  db: Db,
  events: Map<string, ScorableEvent[]>,
  versions: readonly number[],
): Promise<Map<string, ScorableEvent[]>> {
  const newest = Math.max(0, ...versions);
  const collection = db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates);
  const wanted = [...events].flatMap(([leadId, list]) =>
    list
      .filter((event) => scoredVersion(event) < newest)
      .flatMap((event) =>
        versions
          .filter((version) => version > scoredVersion(event))
          .map((version) => ({ leadId, docId: rescoredEventId(version, event.event_id) })),
      ),
  );
  if (wanted.length === 0) return events;
  const stored = await byId(
    collection,
    wanted.map(({ docId }) => docId),
  );
  const found = new Map<string, RescoredCandidatesDocument[]>();
  for (const { leadId, docId } of wanted) {
    const doc = stored.get(docId);
    if (doc !== undefined) found.set(leadId, [...(found.get(leadId) ?? []), doc]);
  }
  if (found.size === 0) return events;
  return new Map([...events].map(([id, list]) => [id, applyRescored(list, found.get(id) ?? [])]));
}

/**
 * The re-score log records of `leadIds` under `versions` (live/src/rescore-log.ts), by lead: its own, and those of the
 * ids merged into it (`merged`), which its log holds as a merge carried them.
 */
export async function readRescoreLogs(
  db: Db,
  leadIds: readonly string[],
  versions: readonly number[],
  merged: (leadId: string) => Iterable<string>,
): Promise<Map<string, RescoreRecord[]>> {
  const collection = db.collection<RescoreLogDocument>(COLLECTIONS.rescoreLog);
  const docs = await readPerVersion(collection, rescoreLogId, leadIds, versions, merged);
  return new Map([...docs].map(([id, list]) => [id, list.map((doc) => rescoreRecordOf(id, doc))]));
}
