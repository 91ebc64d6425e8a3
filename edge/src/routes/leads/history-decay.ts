// Decay entries of the history, derived at read time rather than stored: with one half-life, a stage crossing caused by
// time between two events (or after the last one, up to the instant of the request) is a pure function of the entry
// before it (its exact score and event time), the half-life and the thresholds — the same crossings the fold with
// decay writes (`foldScoresDecay`), so nothing is written when time moves a lead, and a late event that lands before
// a crossing changes the derived entries exactly as it would have had it been known all along.
import { foldScoresDecay, type StageThresholds } from "@leadscore/contracts";
import type { LiveEntry } from "@leadscore/live";

/** A derived decay entry, in the fields the history route shows. */
export interface DecayHistoryEntry {
  event_id: string;
  lead_id: string;
  timestamp: number;
  score: number;
  reason: string;
  sort_key: string;
}

export interface DecayDerivation {
  halfLifeSeconds: number;
  thresholds: StageThresholds;
  cap: number;
  /** The lead's number of event entries: the last one's crossings run up to `until`. */
  count: number;
  /** The instant of the request (epoch ms): crossings after the last event up to it, inclusive. */
  until: number;
}

/**
 * The decay entries after each of `span` (consecutive event entries, oldest first) and before the next one. The last
 * of `span` has its crossings derived only when it is the lead's last entry (up to `until`): otherwise the entry after
 * it, which bounds them, is not known here.
 */
export function deriveDecayEntries(span: readonly LiveEntry[], options: DecayDerivation): DecayHistoryEntry[] {
  const derived: DecayHistoryEntry[] = [];
  span.forEach((entry, index) => {
    const next = span[index + 1];
    if (next === undefined && entry.seq !== options.count) return;
    const until = next === undefined ? options.until : next.timestamp - 1;
    const { history } = foldScoresDecay(
      [],
      options.cap,
      {
        halfLifeSeconds: options.halfLifeSeconds,
        thresholds: options.thresholds,
        until,
        leadId: entry.lead_id,
      },
      {
        score: entry.score,
        at: entry.timestamp,
        entryScore: entry.score,
        through: null,
        count: entry.seq,
        reachedAt: entry.score_reached_at,
      },
    );
    for (const decay of history) {
      derived.push({
        event_id: decay.event_id,
        lead_id: decay.lead_id,
        timestamp: decay.timestamp,
        score: decay.score,
        reason: decay.reason,
        sort_key: decay.sort_key,
      });
    }
  });
  return derived;
}
