// A lead's score over its whole history at the resolution a chart can show: the time from its first event to its
// newest cut into N equal buckets, and per bucket the first, last, lowest and highest score its entries reached —
// the min/max decimation that draws every peak and dip, where sampling draws some. Built from the lead's live state
// alone: each history page's ref carries its time range and its first, last, lowest and highest score, and the tail
// holds its newest entries, so no page is read.
import { keyTime, type LiveEntry, type PageRef } from "./codec.ts";

/** Most buckets a series is asked for. */
export const MAX_SERIES_BUCKETS = 2000;

/** A run of consecutive history entries and what the score did over them. */
export interface ScoreSpan {
  /** Event time of its first entry (epoch ms). */
  from: number;
  /** Event time of its last entry. */
  to: number;
  /** Score after its first entry. */
  first: number;
  /** Score after its last entry. */
  last: number;
  min: number;
  max: number;
  /** Entries in it. */
  entries: number;
}

/** A lead's history as spans, oldest first: one per page (from its ref), then one per tail entry. */
export function historySpans(lead: { pages: readonly PageRef[]; tail: readonly LiveEntry[] }): ScoreSpan[] {
  const spans = lead.pages.map(
    (ref): ScoreSpan => ({
      from: keyTime(ref.firstKey),
      to: ref.lastEventAt,
      first: ref.firstScore,
      last: ref.scoreAfter,
      min: ref.scoreMin,
      max: ref.scoreMax,
      entries: ref.size,
    }),
  );
  for (const entry of lead.tail) {
    const { timestamp: at, score } = entry;
    spans.push({ from: at, to: at, first: score, last: score, min: score, max: score, entries: 1 });
  }
  return spans;
}

/**
 * The spans merged into at most one per bucket of `buckets` equal parts of their time range: consecutive spans that
 * start in one bucket become one, with the first and last score of the run and its lowest and highest (so a run ends
 * less than a bucket past its bucket). A span wider than a bucket (a page whose entries spread over several) stays
 * whole: its entries are not in the live state, so its lowest and highest hold over its whole range and it is drawn
 * as such. So each result is exact over its entries; at most `buckets` plus the number of those wide spans.
 */
export function bucketSpans(spans: readonly ScoreSpan[], buckets: number): ScoreSpan[] {
  const start = spans[0]?.from;
  const end = spans.at(-1)?.to;
  if (start === undefined || end === undefined) return [];
  const width = (end - start) / Math.max(1, Math.floor(buckets));
  const bucketOf = (at: number) => (width > 0 ? Math.min(buckets - 1, Math.floor((at - start) / width)) : 0);
  const merged: ScoreSpan[] = [];
  let open: { span: ScoreSpan; bucket: number } | null = null;
  for (const span of spans) {
    const bucket = bucketOf(span.from);
    if (span.to - span.from > width) {
      merged.push({ ...span });
      open = null;
    } else if (open !== null && open.bucket === bucket) {
      const run: ScoreSpan = open.span;
      run.to = span.to;
      run.last = span.last;
      run.min = Math.min(run.min, span.min);
      run.max = Math.max(run.max, span.max);
      run.entries += span.entries;
    } else {
      open = { span: { ...span }, bucket };
      merged.push(open.span);
    }
  }
  return merged;
}
