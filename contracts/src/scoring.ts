import type { Candidate } from "./fold-v2.ts";

/** Default ceiling of a lead's score. */
export const DEFAULT_SCORE_CAP = 1000;

/** An event ready to be folded: its points were fixed when it was first scored and never change after. */
export interface ScorableEvent {
  event_id: string;
  lead_id: string;
  event_type: string;
  /** Event time, epoch ms. */
  timestamp: number;
  /** When the edge accepted it, epoch ms. */
  received_at: number;
  points: number;
  /** The rule that gave the points, or null when no active rule matched (0 points). */
  rule_id: string | null;
  /**
   * Scoring model v2: what the event may earn, rule by rule, fixed when it was first scored (`points` is their sum,
   * `rule_id` the first one's); absent for an event scored by v1 rules, which is one candidate `{ rule_id, points }`.
   */
  candidates?: readonly Candidate[];
  /** The rule-set version the candidates come from; absent or null for an event scored by v1 rules. */
  rules_version?: number | null;
}

/** One line of the audit trail. */
export interface HistoryEntry extends ScorableEvent {
  delta: number;
  score: number;
  reason: string;
  /** `(timestamp, event_id)` as one string that sorts the same way; used for range queries. */
  sort_key: string;
  /** 1-based position of the entry in its lead's history: the lead's event count once this event is folded in. */
  seq: number;
  /** Event time (epoch ms) at which the score last changed, as of this entry; null while it never has. */
  score_reached_at: number | null;
}

/** What a fold carries from one event to the next; the state just before the first event folded. */
export interface FoldState {
  score: number;
  /** Events folded so far. */
  count: number;
  /** Event time (epoch ms) of the last event that changed the score, or null. */
  reachedAt: number | null;
}

export interface FoldResult extends FoldState {
  history: HistoryEntry[];
}

const TIMESTAMP_WIDTH = 15;

/** A string that sorts like `(timestamp, event_id)` (ids are ASCII, `|` sorts after every id character). */
export function sortKey(timestamp: number, eventId: string): string {
  return `${String(timestamp).padStart(TIMESTAMP_WIDTH, "0")}|${eventId}`;
}

/** The sort key of an event (or of an entry: its event's). */
export function keyOf(event: Pick<ScorableEvent, "timestamp" | "event_id">): string {
  return sortKey(event.timestamp, event.event_id);
}

export function compareEvents(a: Pick<ScorableEvent, "timestamp" | "event_id">, b: typeof a): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  return a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}

/** The first copy of each `event_id`, in `(timestamp, event_id)` order: what a fold folds. */
export function distinctSorted<T extends Pick<ScorableEvent, "timestamp" | "event_id">>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  const distinct: T[] = [];
  for (const event of events) {
    if (seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    distinct.push(event);
  }
  return distinct.sort(compareEvents);
}

export function clampScore(value: number, cap: number): number {
  return Math.min(cap, Math.max(0, value));
}

/** Points as a reason shows them: `+20`, `+0`, `-50`. */
export function signedPoints(points: number): string {
  return points >= 0 ? `+${points}` : String(points);
}

/** The reason text of an entry: its rule's points and whether clamping changed them (floored at 0 or capped). */
export function reasonFor(
  entry: Pick<ScorableEvent, "event_type" | "points" | "rule_id"> & { delta: number },
  cap: number,
): string {
  if (entry.rule_id === null) return `no active rule for ${entry.event_type}`;
  const signed = signedPoints(entry.points);
  if (entry.delta === entry.points) return `${entry.event_type} ${signed}`;
  return entry.delta > entry.points
    ? `${entry.event_type} ${signed} (floored at 0)`
    : `${entry.event_type} ${signed} (capped at ${cap})`;
}

/** An entry: the event's own fields (nothing else it carries), its points and rule, and what the fold made of it. */
export function historyEntry(
  event: Omit<ScorableEvent, "points" | "rule_id">,
  folded: Pick<HistoryEntry, "points" | "rule_id" | "delta" | "score" | "reason" | "seq" | "score_reached_at">,
): HistoryEntry {
  return {
    event_id: event.event_id,
    lead_id: event.lead_id,
    event_type: event.event_type,
    timestamp: event.timestamp,
    received_at: event.received_at,
    points: folded.points,
    rule_id: folded.rule_id,
    delta: folded.delta,
    score: folded.score,
    reason: folded.reason,
    sort_key: keyOf(event),
    seq: folded.seq,
    score_reached_at: folded.score_reached_at,
  };
}

/**
 * The scoring fold: distinct events (by `event_id`, first copy wins) in `(timestamp, event_id)` order,
 * `s_i = clamp(s_{i-1} + points_i, 0, cap)`. `start` is the state just before the first event given (a bare number
 * is a score with nothing counted before it), so folding a lead's events in two consecutive slices, the second
 * starting from the first's result, gives the same entries as folding them all at once.
 */
export function foldScores(
  events: readonly ScorableEvent[],
  cap: number,
  start: number | Partial<FoldState> = 0,
): FoldResult {
  const distinct = distinctSorted(events);
  const initial = typeof start === "number" ? { score: start } : start;
  let score = clampScore(initial.score ?? 0, cap);
  let count = initial.count ?? 0;
  let reachedAt = initial.reachedAt ?? null;
  const history: HistoryEntry[] = distinct.map((event) => {
    const next = clampScore(score + event.points, cap);
    const delta = next - score;
    score = next;
    count += 1;
    if (delta !== 0) reachedAt = event.timestamp;
    return historyEntry(event, {
      points: event.points,
      rule_id: event.rule_id,
      delta,
      score: next,
      reason: reasonFor({ ...event, delta }, cap),
      seq: count,
      score_reached_at: reachedAt,
    });
  });
  return { history, score, count, reachedAt };
}
