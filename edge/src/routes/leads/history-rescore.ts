// Re-score entries of the history, derived at read time like the merge entries: a retroactive publish re-folds the
// lead's whole history under the version published, so every event entry shows what the new version gives it and the
// re-score itself changes nothing in that history (delta 0). Its entry marks when the lead switched, from which version
// to which, and its score and stage either side, from the lead's re-score log (one record per version that moved it,
// written by the re-score's commit: live/src/rescore-log.ts). A record a merge carried over (the merged lead's, whose
// events the root's history holds) names the merged id, with its scores either side as that lead's.
import { shownScore, sortKey } from "@leadscore/contracts";
import { type LiveEntry, type RescoreRecord, rescoreLogField } from "@leadscore/live";
import type { DecayHistoryEntry } from "./history-decay.ts";
import { type Placing, scoreAmong } from "./history-merge.ts";

/** A derived re-score entry, in the fields the history route shows. */
export interface RescoreHistoryEntry extends DecayHistoryEntry {
  rescore: {
    from_version: number | null;
    to_version: number;
    score_before: number;
    score_after: number;
    delta: number;
    stage_before: string;
    stage_after: string;
    /** The lead merged into this one since, whose re-score this was (absent: this lead's own). */
    merged_id?: string;
  };
}

/** The re-score entries that fall among `span` (`scoreAmong`). */
export function deriveRescoreEntries(
  leadId: string,
  span: readonly LiveEntry[],
  records: readonly RescoreRecord[],
  options: Placing,
): RescoreHistoryEntry[] {
  return records.flatMap((record) => {
    const eventId = `rescore:${rescoreLogField(record)}`;
    const key = sortKey(record.at, eventId);
    const score = scoreAmong(span, key, record.at, options);
    if (score === null) return [];
    const [before, after] = [shownScore(record.scoreBefore), shownScore(record.scoreAfter)];
    const from = record.from === null ? "rules before versions" : `version ${record.from}`;
    return [
      {
        event_id: eventId,
        lead_id: leadId,
        timestamp: record.at,
        score,
        reason: `re-scored from ${from} to version ${record.version}: ${before} → ${after}${
          record.merged === null ? "" : ` (${record.merged}, merged since)`
        }`,
        sort_key: key,
        rescore: {
          from_version: record.from,
          to_version: record.version,
          score_before: before,
          score_after: after,
          delta: after - before,
          stage_before: record.stageBefore,
          stage_after: record.stageAfter,
          ...(record.merged !== null && { merged_id: record.merged }),
        },
      },
    ];
  });
}
