import { keyOf, type ScorableEvent, type StageThresholds, scoreAt, stageFor } from "@leadscore/contracts";
import type { MovementEvent } from "@leadscore/live";
import type { NextState } from "./plan.ts";

/**
 * The event that moved a lead into a new stage in a round, or undefined when its stage did not move (a lead without
 * live state counts as coming from the first stage at 0) or the round folded no event.
 *
 * The history now says where the score entered its new stage for good: the first entry of the trailing run in that
 * stage. The event named is the newest of the round's events at or before that entry: the crossing event itself, or
 * the late event whose points, slotted in before it, carried a later entry over the threshold. The score is the
 * lead's after the round.
 *
 * With decay, stages are compared at the events' instants: the lead comes from the stage its score before the round had
 * decayed to by the round's first event (not the one it had at its last event), and an entry's stage is its score's
 * at its own event time.
 */
export function movementOf(
  previous: { score: number; lastEventAt: number | null } | null,
  next: NextState,
  folded: readonly ScorableEvent[],
  thresholds: StageThresholds,
  halfLifeSeconds: number | null = null,
): MovementEvent | undefined {
  const to = stageFor(next.score, thresholds);
  if (folded.length === 0) return undefined;
  const first = folded.reduce((a, b) => (keyOf(b) < keyOf(a) ? b : a)).timestamp;
  const before = previous === null ? 0 : scoreAt(previous.score, previous.lastEventAt, first, halfLifeSeconds);
  if (stageFor(before, thresholds) === to) return undefined;
  // An append leaves the tail's older entries as they were, so the crossing is among the appended ones.
  const entries = next.appended?.entries ?? next.tail;
  let start = entries.length;
  while (start > 0 && stageFor((entries[start - 1] as (typeof entries)[number]).score, thresholds) === to) start -= 1;
  const ids = new Set(folded.map((event) => event.event_id));
  for (let i = Math.min(start, entries.length - 1); i >= 0; i -= 1) {
    const entry = entries[i] as (typeof entries)[number];
    if (ids.has(entry.event_id)) return eventOf(entry, next.score);
  }
  const newest = folded.reduce((a, b) => (keyOf(b) > keyOf(a) ? b : a));
  return eventOf(newest, next.score);
}

const eventOf = (event: Pick<ScorableEvent, "event_id" | "event_type" | "timestamp">, score: number) => ({
  event_id: event.event_id,
  event_type: event.event_type,
  timestamp: event.timestamp,
  score,
});
