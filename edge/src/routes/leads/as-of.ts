// A lead's score at another instant (`GET /api/leads/:id?as_of=`): from the newest entry of its live history at or
// before that instant, decayed to it with the half-life in force. The live history (the tail) holds at least the
// newest page of entries; an instant before it is refused rather than read from MongoDB on this route.
import { decayKey, type Stage, type StageThresholds, scoreAt, stageAt, stageFor } from "@leadscore/contracts";
import type { LiveEntry } from "@leadscore/live";
import { z } from "zod";
import { ApiError } from "../../errors.ts";

/** How far ahead `as_of` may look. */
export const AS_OF_MAX_AHEAD_MS = 366 * 86_400_000;

export const AsOfQuerySchema = z.strictObject({
  as_of: z.iso
    .datetime({ offset: true })
    .optional()
    .describe("An instant (ISO-8601) to give the score and stage at instead of now: past, or up to a year ahead."),
});

/** The instant asked for, checked against now: more than a year ahead is a 400. */
export function asOfInstant(asOf: string, now: number): number {
  const t = Date.parse(asOf);
  if (t > now + AS_OF_MAX_AHEAD_MS) {
    throw new ApiError("VALIDATION_FAILED", "invalid query", [
      { path: "as_of", message: "must be at most a year ahead" },
    ]);
  }
  return t;
}

/**
 * The score and stage at `t` from the lead's tail (oldest first; `hasPages`: entries older than the tail exist), or a
 * 400 when `t` is before the tail and older entries exist.
 */
export function scoreAsOf(
  tail: readonly LiveEntry[],
  hasPages: boolean,
  t: number,
  halfLifeSeconds: number | null,
  thresholds: StageThresholds,
): { score: number; stage: Stage } {
  let entry: LiveEntry | undefined;
  for (const candidate of tail) {
    if (candidate.timestamp > t) break;
    entry = candidate;
  }
  if (entry === undefined) {
    if (hasPages) {
      throw new ApiError("VALIDATION_FAILED", "invalid query", [
        { path: "as_of", message: "is before the lead's live history; read GET /api/leads/:id/history for it" },
      ]);
    }
    return { score: 0, stage: stageFor(0, thresholds) };
  }
  if (halfLifeSeconds === null) return { score: entry.score, stage: stageFor(entry.score, thresholds) };
  return {
    score: scoreAt(entry.score, entry.timestamp, t, halfLifeSeconds),
    stage: stageAt(decayKey(entry.score, entry.timestamp, halfLifeSeconds), t, halfLifeSeconds, thresholds),
  };
}
