// Events a retroactive re-score never saw (contracts/src/rescore.ts): stored by a try of a batch matched under an older
// version, which died before its commit, so no live state held them when the re-score read their lead. The job's next
// try finds them stored (its inserts conflict) and hands the lead to the deep lane's rescan, which folds the stored
// copies: before it does, each such event — scored by a version older than the newest published retroactively, and
// in no page, tail or list of its lead — is matched again under that version, as the re-score would have matched it,
// and stored in a document of its own (`rescoredEventId`, insert only: a copy stored already wins), which the rescan,
// a rebuild and the audit read as they read the re-score's own.
//
// Cost: nothing for a lead whose stored events every live history holds; per missed event, one insert, and one read
// of its metadata by `_id` when a rule of the version reads `metadata.*` (a few at once: findByIds).
import {
  applyRescored,
  COLLECTIONS,
  type EventDocument,
  encodeRescoredEvents,
  type LeadProfile,
  type RescoredCandidatesDocument,
  rescoredEventId,
  type ScorableEvent,
  scoredVersion,
  withRescoredCandidates,
} from "@leadscore/contracts";
import { findByIds, readRuleSetVersion } from "@leadscore/runtime";
import type { Db } from "mongodb";
import { retroactiveVersions } from "./rescored.ts";
import { type RuleMatcher, readsMetadata, ruleMatcher } from "./rules-cache.ts";
import { insertNew } from "./store.ts";

/** A lead whose stored events a rescan folds: those events, the ids its live history holds, its profile. */
export interface RescannedLead {
  leadId: string;
  stored: ScorableEvent[];
  held: ReadonlySet<string>;
  profile: LeadProfile | null;
}

export function createMissedRematcher(options: { db: Db; now?: () => number }) {
  const { db } = options;
  const now = options.now ?? Date.now;
  const collection = db.collection<RescoredCandidatesDocument>(COLLECTIONS.rescoredCandidates);
  const events = db.collection<EventDocument>(COLLECTIONS.events);
  const matchers = new Map<number, { rules: RuleMatcher; metadata: boolean }>();

  async function matcherOf(version: number) {
    let matcher = matchers.get(version);
    if (matcher === undefined) {
      const stored = await readRuleSetVersion(db, version);
      if (stored === null) throw new Error(`no rule set version ${version}`);
      matcher = { rules: ruleMatcher(stored.set), metadata: readsMetadata(stored.set) };
      matchers.set(version, matcher);
    }
    return matcher;
  }

  /**
   * Each lead's stored events, those a re-score missed matched again under the newest version published
   * retroactively and stored; `beforeInsert` runs before anything is written (the caller's lock check).
   */
  return async function rematchMissed(
    leads: readonly RescannedLead[],
    beforeInsert: () => Promise<void>,
    signal?: AbortSignal,
  ): Promise<Map<string, ScorableEvent[]>> {
    const result = new Map(leads.map((lead) => [lead.leadId, lead.stored]));
    if (leads.length === 0) return result;
    const newest = Math.max(0, ...(await retroactiveVersions(db, signal)));
    const missed = leads.flatMap((lead) =>
      lead.stored
        .filter((event) => scoredVersion(event) < newest && !lead.held.has(event.event_id))
        .map((event) => ({ lead, event })),
    );
    if (missed.length === 0) return result;
    const { rules, metadata } = await matcherOf(newest);
    const ids = metadata ? missed.map(({ event }) => event.event_id) : [];
    const stored = new Map(
      (await findByIds(events, ids, { signal, projection: { metadata: 1 } })).map((doc) => [doc._id, doc.metadata]),
    );
    const rematched = missed.map(({ lead, event }) => {
      const matchable = { event_type: event.event_type, metadata: stored.get(event.event_id) };
      const candidates = rules.match(matchable, rules.usesLead ? lead.profile : null);
      return { lead, event: withRescoredCandidates(event, candidates, newest) };
    });
    const docs: RescoredCandidatesDocument[] = rematched.map(({ lead, event }) => ({
      _id: rescoredEventId(newest, event.event_id),
      version: newest,
      lead_id: lead.leadId,
      at: new Date(now()),
      events: encodeRescoredEvents([event]),
    }));
    await beforeInsert();
    const existing = await insertNew(collection, docs);
    // An event stored by a pass before keeps that copy: the one every reader folds.
    const before = docs.flatMap((doc, index) => (existing.has(index) ? [doc._id] : []));
    const earlier = new Map((await findByIds(collection, before, { signal })).map((doc) => [doc._id, doc]));
    const kept = docs.map((doc, index) => (existing.has(index) ? (earlier.get(doc._id) ?? null) : doc));
    const byLead = new Map<string, RescoredCandidatesDocument[]>();
    kept.forEach((doc, index) => {
      const { leadId } = (missed[index] as (typeof missed)[number]).lead;
      if (doc !== null) byLead.set(leadId, [...(byLead.get(leadId) ?? []), doc]);
    });
    for (const [leadId, list] of byLead) result.set(leadId, applyRescored(result.get(leadId) ?? [], list));
    return result;
  };
}
