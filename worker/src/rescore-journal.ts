// Events a retroactive re-score would never see: stored by a try of a batch matched under an older version that died
// before its commit (contracts/src/rescore.ts), so that no live state holds them. When that job is tried again, its
// inserts conflict and the deep lane's rescan matches them under the version (rescore-missed.ts); but a rebuild may
// come first (it would fold their stored, older candidates), or the job may never be tried again (removed, failed for
// good). So the re-score finds them itself, once, before it reads any lead: the batch journal (journal.ts) holds an
// entry for every try of a batch, inserted before its events were stored and marked done once its commits returned,
// so the events of the entries without a mark are the only stored events no commit may have folded. Those stored
// under an older version and in no live history of their lead are matched again under the version and stored in
// documents of their own (`rescoredEventId`, as the rescan stores them: a rebuild and the audit read them), and their
// leads are handed to the deep lane, whose rescan folds the stored events into the live state.
//
// Only entries opened before the batches filed before the publish had all left are read: a batch filed after it
// matches under the version. Entries are kept JOURNAL_RETENTION_MS: a batch that died longer ago than that before
// the publish is past the journal (its job's retry, or a rebuild, still folds it as before).
//
// Cost: one scan of the journal (ids and times; a few minutes of batches), one ZMSCORE per 500 entries and
// partition; per unfinished entry, one read by `_id`, and one per its event (a few at once: findByIds); per lead with
// an event stored under an older version, its live history read once.
import {
  type BatchJournalDocument,
  COLLECTIONS,
  type EventDocument,
  type ScorableEvent,
  scoredVersion,
  toScorable,
} from "@leadscore/contracts";
import type { LiveKeys } from "@leadscore/live";
import { findByIds, leadPartition } from "@leadscore/runtime";
import type { Redis } from "ioredis";
import type { Db } from "mongodb";
import { readJournalEntries, unmarkedEntries } from "./journal.ts";
import { readLiveLeads } from "./live-lead-stream.ts";
import type { createMissedRematcher, RescannedLead } from "./rescore-missed.ts";
import type { LiveWriterOptions } from "./scorer.ts";

export interface MissedByJournalOptions extends Pick<LiveWriterOptions, "cap" | "thresholds"> {
  db: Db;
  redis: Redis;
  /** Every lead partition's live keys, in partition order. */
  layouts: readonly { keys: LiveKeys }[];
  version: number;
  /** Entries opened at or after this time (epoch ms) are passed over. */
  before: number;
  rematchMissed: ReturnType<typeof createMissedRematcher>;
  signal: AbortSignal;
}

/** The events of the journal's unfinished entries opened before `before`, by id (event id → lead id). */
async function unfinishedEvents(options: MissedByJournalOptions): Promise<Map<string, string>> {
  const { db, redis, layouts, before, signal } = options;
  const entries = db.collection<BatchJournalDocument>(COLLECTIONS.batchJournal);
  const found: string[] = [];
  for await (const entry of entries.find({}, { projection: { _id: 1, at: 1 }, batchSize: 10_000, signal })) {
    if (entry.at.getTime() < before) found.push(entry._id);
  }
  const unfinished = await unmarkedEntries(
    redis,
    layouts.map(({ keys }) => keys.journal.done),
    found,
  );
  const events = new Map<string, string>();
  for (const entry of await readJournalEntries(db, unfinished, signal)) {
    const leads = entry.leads;
    if (leads === undefined) continue;
    entry.events.forEach((id, index) => {
      const lead = leads[index];
      if (lead !== undefined) events.set(id, lead);
    });
  }
  return events;
}

/**
 * Finds the stored events of batches that died before their commit under a version older than `version`, matches
 * those no live history holds under it (stored by `rematchMissed`) and asks the deep lane to rescan their leads;
 * returns the ids of the leads handed over.
 */
export async function rematchUnfinishedBatches(options: MissedByJournalOptions): Promise<string[]> {
  const { db, redis, layouts, version, signal } = options;
  const unfinished = await unfinishedEvents(options);
  if (unfinished.size === 0) return [];
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const older = new Map<string, ScorableEvent[]>();
  for (const doc of await findByIds(events, [...unfinished.keys()], { signal })) {
    const event = toScorable(doc);
    if (scoredVersion(event) >= version) continue;
    older.set(event.lead_id, [...(older.get(event.lead_id) ?? []), event]);
  }
  if (older.size === 0) return [];
  const byPartition = new Map<number, string[]>();
  for (const id of older.keys()) {
    const partition = leadPartition(id, layouts.length);
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), id]);
  }
  const handed: string[] = [];
  for (const [partition, ids] of byPartition) {
    const { keys } = layouts[partition] as { keys: LiveKeys };
    const live = new Map(
      (await readLiveLeads(redis, db, keys, ids, options)).map((item) => [item.leadId, item] as const),
    );
    const leads: RescannedLead[] = ids.map((leadId) => {
      const item = live.get(leadId);
      return {
        leadId,
        stored: older.get(leadId) ?? [],
        held: new Set((item?.events ?? []).map((event) => event.event_id)),
        profile: item?.profile ?? null,
      };
    });
    const missed = leads.filter((lead) => lead.stored.some((event) => !lead.held.has(event.event_id)));
    if (missed.length === 0) continue;
    await options.rematchMissed(missed, async () => undefined, signal);
    const ask = redis.pipeline();
    for (const lead of missed) ask.hincrby(keys.deep, lead.leadId, 1);
    await ask.exec();
    handed.push(...missed.map((lead) => lead.leadId));
  }
  return handed;
}
