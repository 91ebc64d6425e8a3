// Merge entries of the history, derived at read time like the decay entries: a merge folds the merged lead's events
// into the lead's history as if they had always been one lead, so in that history the merge changes nothing (delta
// 0); its entry marks when it happened and what it brought, from the lead's merge log (written once per merge, off
// the event path: live/src/identity.ts). Its score is the history's at that instant — that of the entry before it,
// decayed to the merge with a half-life — so an event arriving late before it moves it as it moves any later entry;
// the scores the lead had either side of the merge when it committed are kept as they were then.
import { decayedScore, shownScore, sortKey } from "@leadscore/contracts";
import type { LiveEntry, MergeRecord } from "@leadscore/live";
import type { DecayHistoryEntry } from "./history-decay.ts";

/** A derived merge entry, in the fields the history route shows. */
export interface MergeHistoryEntry extends DecayHistoryEntry {
  merge: { from: string; events: number; score_before: number | null; score_after: number | null };
}

/** Where the history stands at a derived entry's key: its score there, or null when the entry is not among `span`. */
export interface Placing {
  count: number;
  halfLifeSeconds: number | null;
}

/**
 * The score of a derived entry at `key` (instant `at`) that falls among `span` (consecutive event entries, oldest
 * first): after its first entry, or before it when that is the lead's first; before its last entry, or after it when
 * that is the lead's last (`count`). Its score is that of the entry before it, decayed to `at` with a half-life.
 */
export function scoreAmong(span: readonly LiveEntry[], key: string, at: number, options: Placing): number | null {
  const first = span[0];
  const last = span.at(-1);
  if (first === undefined || last === undefined) return null;
  if (key < first.sort_key && first.seq !== 1) return null;
  if (key > last.sort_key && last.seq !== options.count) return null;
  const before = span.findLast((entry) => entry.sort_key < key);
  if (before === undefined) return 0;
  return options.halfLifeSeconds === null
    ? before.score
    : shownScore(decayedScore(before.score, before.timestamp, at, options.halfLifeSeconds));
}

/** The merge entries that fall among `span` (`scoreAmong`). */
export function deriveMergeEntries(
  leadId: string,
  span: readonly LiveEntry[],
  records: readonly MergeRecord[],
  options: Placing,
): MergeHistoryEntry[] {
  return records.flatMap((record) => {
    const eventId = `merge:${record.from}`;
    const key = sortKey(record.at, eventId);
    const score = scoreAmong(span, key, record.at, options);
    if (score === null) return [];
    return [
      {
        event_id: eventId,
        lead_id: leadId,
        timestamp: record.at,
        score,
        reason: `merged from ${record.from} (${record.events} ${record.events === 1 ? "event" : "events"})`,
        sort_key: key,
        merge: {
          from: record.from,
          events: record.events,
          score_before: record.scoreBefore,
          score_after: record.scoreAfter,
        },
      },
    ];
  });
}
