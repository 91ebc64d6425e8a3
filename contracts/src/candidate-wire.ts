// The compact form of an event's candidates (what it may earn, fixed when it is first scored), shared by the live
// state's entries and events (live/src/codec.ts) and by the events MongoDB stores: arrays instead of objects with
// named fields. On the embedded store an event's candidates as objects cost FerretDB about twice the CPU of the
// rest of the event's insert; as one JSON text of this form, a fraction of it (docs/performance.md#worker).
import type { Candidate, CandidateLimit, LimitPeriod } from "./fold-v2.ts";

/**
 * A candidate as compact entries and events store it: `[rule_id, points, limit?, group?]`, `limit` as `[max, per,
 * field?, key?]` and `group` as `[id, max]` (0 where absent and followed by more), trailing absent parts left out.
 */
export type CandidateWire = [string, number, (CandidateLimitWire | 0)?, ([string, number] | 0)?];
type CandidateLimitWire = [number, LimitPeriod, string?, string?];

export function encodeCandidate(candidate: Candidate): CandidateWire {
  const { limit, group } = candidate;
  const wire: CandidateWire = [candidate.rule_id, candidate.points];
  if (limit !== undefined) {
    const limitWire: CandidateLimitWire = [limit.max, limit.per];
    if (limit.field !== undefined) limitWire.push(limit.field);
    if (limit.key !== undefined) limitWire.push(limit.key);
    wire.push(limitWire);
  }
  if (group !== undefined) {
    if (limit === undefined) wire.push(0);
    wire.push([group.id, group.max]);
  }
  return wire;
}

export function decodeCandidate(wire: CandidateWire): Candidate {
  const [rule_id, points, limitWire, groupWire] = wire;
  const candidate: Candidate = { rule_id, points };
  if (limitWire) {
    const [max, per, field, key] = limitWire;
    const limit: CandidateLimit = { max, per };
    if (field !== undefined) limit.field = field;
    if (key !== undefined) limit.key = key;
    candidate.limit = limit;
  }
  if (groupWire) candidate.group = { id: groupWire[0], max: groupWire[1] };
  return candidate;
}

/** Whether an event's candidates are what its v1 fields say: none without a rule, else one without limit or group. */
export function plainCandidates(
  event: { rule_id: string | null; points: number },
  candidates: readonly Candidate[],
): boolean {
  if (candidates.length === 0) return event.rule_id === null;
  const [only] = candidates as [Candidate];
  return (
    candidates.length === 1 &&
    only.limit === undefined &&
    only.group === undefined &&
    only.rule_id === event.rule_id &&
    only.points === event.points
  );
}

/** The candidates of an event whose v1 fields say them all (`plainCandidates`). */
export function candidatesOfPlain(event: { rule_id: string | null; points: number }): Candidate[] {
  return event.rule_id === null ? [] : [{ rule_id: event.rule_id, points: event.points }];
}
