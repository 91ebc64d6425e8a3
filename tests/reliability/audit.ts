// What must hold after any run, faults or not: every acknowledged event is scored exactly once, nothing the client
// was never told "yes" about is scored, and every lead's history is the pure fold of its stored events.
import {
  COLLECTIONS,
  type EventDocument,
  foldScores,
  type HistoryDocument,
  type LeadDocument,
  sortKey,
  toScorable,
} from "@leadscore/contracts";
import type { Db } from "mongodb";

export interface AuditReport {
  /** History entries (one per scored event). */
  scored: number;
  storedEvents: number;
  leads: number;
  /** Acknowledged ids with no history entry. */
  lost: string[];
  /** Ids with more than one history entry, or an entry whose event_id is not its _id. */
  duplicated: string[];
  /** Acknowledged ids with no stored event. */
  missingEvents: string[];
  /** Scored ids the client was never acknowledged for (refused, or never sent). */
  phantoms: string[];
  /** Broken per-lead invariants, one line each. */
  problems: string[];
}

/** Checks one lead's history against its lead document and against the fold of its stored events. */
export function leadProblems(
  lead: LeadDocument | undefined,
  entries: HistoryDocument[],
  events: EventDocument[],
  cap: number,
): string[] {
  const id = lead?._id ?? entries[0]?.lead_id ?? events[0]?.lead_id ?? "?";
  const problems: string[] = [];
  if (!lead) return [`${id}: history without a lead document`];
  const ordered = [...entries].sort((a, b) => (a.sort_key < b.sort_key ? -1 : a.sort_key > b.sort_key ? 1 : 0));
  let sum = 0;
  ordered.forEach((entry, index) => {
    sum += entry.delta;
    if (entry.score < 0 || entry.score > cap) problems.push(`${id}: ${entry._id} has score ${entry.score}`);
    if (entry.sort_key !== sortKey(new Date(entry.timestamp).getTime(), entry.event_id)) {
      problems.push(`${id}: ${entry._id} has sort_key ${entry.sort_key}, not its (timestamp, event_id)`);
    }
    if (entry.seq !== index + 1) problems.push(`${id}: ${entry._id} is entry ${index + 1} but has seq ${entry.seq}`);
  });
  if (sum !== lead.current_score) problems.push(`${id}: deltas sum to ${sum}, current_score is ${lead.current_score}`);
  const last = ordered.at(-1);
  if (last && last.score !== lead.current_score) {
    problems.push(`${id}: last entry's score ${last.score} ≠ current_score ${lead.current_score}`);
  }
  if (lead.event_count !== ordered.length) {
    problems.push(`${id}: event_count ${lead.event_count}, history has ${ordered.length} entries`);
  }
  const fold = foldScores(events.map(toScorable), cap);
  if (fold.history.length !== ordered.length) {
    problems.push(
      `${id}: ${events.length} stored events fold to ${fold.history.length} entries, history has ${ordered.length}`,
    );
  } else {
    fold.history.forEach((want, i) => {
      const got = ordered[i] as HistoryDocument;
      if (
        want.event_id !== got.event_id ||
        want.points !== got.points ||
        want.delta !== got.delta ||
        want.score !== got.score ||
        want.seq !== got.seq
      ) {
        problems.push(
          `${id} entry ${i}: fold gives ${want.event_id} ${want.points}/${want.delta}/${want.score}, ` +
            `history has ${got.event_id} ${got.points}/${got.delta}/${got.score}`,
        );
      }
    });
  }
  if (fold.score !== lead.current_score)
    problems.push(`${id}: fold gives ${fold.score}, lead has ${lead.current_score}`);
  const reachedAt = lead.score_reached_at ? new Date(lead.score_reached_at).getTime() : null;
  if (fold.reachedAt !== reachedAt)
    problems.push(`${id}: fold reached its score at ${fold.reachedAt}, lead says ${reachedAt}`);
  return problems;
}

export async function auditScores(db: Db, acknowledged: ReadonlySet<string>, cap: number): Promise<AuditReport> {
  const [history, events, leads] = await Promise.all([
    db.collection<HistoryDocument>(COLLECTIONS.history).find({}).toArray(),
    db
      .collection<EventDocument>(COLLECTIONS.events)
      .find({}, { projection: { metadata: 0 } })
      .toArray(),
    db.collection<LeadDocument>(COLLECTIONS.leads).find({}).toArray(),
  ]);
  const entriesOf = new Map<string, number>();
  const duplicated: string[] = [];
  for (const entry of history) {
    entriesOf.set(entry.event_id, (entriesOf.get(entry.event_id) ?? 0) + 1);
    if (entry.event_id !== entry._id) duplicated.push(entry._id);
  }
  for (const [id, count] of entriesOf) if (count > 1) duplicated.push(id);
  const storedIds = new Set(events.map((event) => event._id));

  const byLead = <T extends { lead_id: string }>(docs: T[]) => {
    const map = new Map<string, T[]>();
    for (const doc of docs) map.set(doc.lead_id, [...(map.get(doc.lead_id) ?? []), doc]);
    return map;
  };
  const historyByLead = byLead(history);
  const eventsByLead = byLead(events);
  const leadById = new Map(leads.map((lead) => [lead._id, lead]));
  const problems: string[] = [];
  for (const leadId of new Set([...historyByLead.keys(), ...eventsByLead.keys()])) {
    problems.push(
      ...leadProblems(leadById.get(leadId), historyByLead.get(leadId) ?? [], eventsByLead.get(leadId) ?? [], cap),
    );
  }
  return {
    scored: history.length,
    storedEvents: events.length,
    leads: leads.length,
    lost: [...acknowledged].filter((id) => !entriesOf.has(id)),
    duplicated,
    missingEvents: [...acknowledged].filter((id) => !storedIds.has(id)),
    phantoms: [...entriesOf.keys()].filter((id) => !acknowledged.has(id)),
    problems,
  };
}
