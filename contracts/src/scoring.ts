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
}

/** One line of the audit trail. */
export interface HistoryEntry extends ScorableEvent {
  delta: number;
  score: number;
  reason: string;
  /** `(timestamp, event_id)` as one string that sorts the same way; used for range queries. */
  sort_key: string;
}

const TIMESTAMP_WIDTH = 15;

/** A string that sorts like `(timestamp, event_id)`. */
export function sortKey(timestamp: number, eventId: string): string {
  return `${String(timestamp).padStart(TIMESTAMP_WIDTH, "0")}|${eventId}`;
}

export function compareEvents(a: Pick<ScorableEvent, "timestamp" | "event_id">, b: typeof a): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  return a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}

export function clampScore(value: number, cap: number): number {
  return Math.min(cap, Math.max(0, value));
}

function reasonFor(event: ScorableEvent, delta: number, cap: number): string {
  if (event.rule_id === null) return `no active rule for ${event.event_type}`;
  const signed = event.points >= 0 ? `+${event.points}` : String(event.points);
  if (delta === event.points) return `${event.event_type} ${signed}`;
  return delta > event.points
    ? `${event.event_type} ${signed} (floored at 0)`
    : `${event.event_type} ${signed} (capped at ${cap})`;
}

/**
 * The scoring fold: distinct events (by `event_id`, first copy wins) in `(timestamp, event_id)` order,
 * `s_i = clamp(s_{i-1} + points_i, 0, cap)`, starting from `start` (the score just before the first event given).
 */
export function foldScores(
  events: readonly ScorableEvent[],
  cap: number,
  start = 0,
): { history: HistoryEntry[]; score: number } {
  const seen = new Set<string>();
  const distinct: ScorableEvent[] = [];
  for (const event of events) {
    if (seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    distinct.push(event);
  }
  distinct.sort(compareEvents);
  let score = clampScore(start, cap);
  const history: HistoryEntry[] = distinct.map((event) => {
    const next = clampScore(score + event.points, cap);
    const delta = next - score;
    score = next;
    return {
      ...event,
      delta,
      score: next,
      reason: reasonFor(event, delta, cap),
      sort_key: sortKey(event.timestamp, event.event_id),
    };
  });
  return { history, score };
}
