// A retroactive publish re-scores every lead with the version published: each event's candidates are matched again
// under it. An event's stored candidates (in `events`) stay the snapshot of its first scoring, so the re-matched ones
// are stored beside them, one document per (version, lead) read by `_id` — the one read the embedded store answers
// without a scan — and whatever folds a lead from its stored events (a rescan, a rebuild, the audit) takes, for each
// event, the candidates of the newest version that re-scored it, else its stored ones. Events first scored after a
// re-score reached their lead carry that version's candidates (or a later one's) already.
//
// One kind of event no re-score of its lead sees: one a batch matched and stored under an older version, then died
// before its commit, so it was in no live state when the re-score read its lead. Whatever first folds it after (the
// deep lane's rescan, when its job is tried again) matches it again under the newest version published retroactively
// and stores that in a document of its own in the same collection, `_id` = `rescoredEventId(version, event_id)`, read
// by `_id` for an event no document of its lead gave that version (worker/src/rescored.ts).
import { type CandidateWire, decodeCandidate, encodeCandidate } from "./candidate-wire.ts";
import { type Candidate, withCandidates } from "./fold-v2.ts";
import type { ScorableEvent } from "./scoring.ts";

export interface RescoredCandidatesDocument {
  /** `rescoredCandidatesId(version, lead_id)`. */
  _id: string;
  version: number;
  lead_id: string;
  at: Date;
  /** `[event_id, [candidate wire…]]` per event re-matched, as JSON text (FerretDB 1.x stores no nested arrays). */
  events: string;
}

export function rescoredCandidatesId(version: number, leadId: string): string {
  return `${version}:${leadId}`;
}

/** The document of one event a re-score missed (`/` is in no id: it names no lead's document). */
export function rescoredEventId(version: number, eventId: string): string {
  return `${version}/${eventId}`;
}

/** The newest version among the events' candidates (0: rules that predate versions). */
export const scoredVersion = (event: Pick<ScorableEvent, "rules_version">): number => event.rules_version ?? 0;

/**
 * A re-score that moved a lead, as its commit recorded it in the lead's re-score log (live/src/rescore-log.ts), kept
 * in MongoDB so a rebuild lays the log out again. Stored under the id the lead had when it was re-scored: after a
 * merge, its root's history shows it too (docs/identity.md).
 */
export interface RescoreLogDocument {
  /** `rescoreLogId(version, lead_id)`. */
  _id: string;
  version: number;
  lead_id: string;
  /** The newest version that had scored the lead's events before (null: rules older than versions). */
  from: number | null;
  /** When the re-score committed the lead. */
  at: Date;
  score_before: number;
  score_after: number;
  stage_before: string;
  stage_after: string;
}

export function rescoreLogId(version: number, leadId: string): string {
  return `${version}:${leadId}`;
}

/** An event with the candidates a version gives it: `points` their sum and `rule_id` the first, as when stored. */
export function withRescoredCandidates(
  event: ScorableEvent,
  candidates: readonly Candidate[],
  version: number,
): ScorableEvent {
  let points = 0;
  for (const candidate of candidates) points += candidate.points;
  return { ...withCandidates(event, candidates, version), points, rule_id: candidates[0]?.rule_id ?? null };
}

/** The `events` field of a lead's document: its re-matched events' candidates. */
export function encodeRescoredEvents(events: readonly ScorableEvent[]): string {
  return JSON.stringify(events.map((event) => [event.event_id, (event.candidates ?? []).map(encodeCandidate)]));
}

/**
 * A lead's stored events with the candidates of the newest version that re-scored each (`docs`: the lead's
 * documents, any order); events no document names keep theirs.
 */
export function applyRescored(
  events: readonly ScorableEvent[],
  docs: readonly Pick<RescoredCandidatesDocument, "version" | "events">[],
): ScorableEvent[] {
  if (docs.length === 0) return [...events];
  const newest = new Map<string, { version: number; candidates: CandidateWire[] }>();
  for (const doc of [...docs].sort((a, b) => a.version - b.version)) {
    for (const [id, candidates] of JSON.parse(doc.events) as [string, CandidateWire[]][]) {
      newest.set(id, { version: doc.version, candidates });
    }
  }
  return events.map((event) => {
    const rescored = newest.get(event.event_id);
    if (rescored === undefined) return event;
    return withRescoredCandidates(event, rescored.candidates.map(decodeCandidate), rescored.version);
  });
}
