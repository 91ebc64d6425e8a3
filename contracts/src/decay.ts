// Score decay with one half-life H: between events a score falls as s(t) = s_i · 2^(−(t − t_i)/H). Since
// log2 s(t) = log2 s_i + t_i/H − t/H, the order of leads never changes without an event, so a sorted set keyed on
// `log2 s_i + t_i/H` stays a valid leaderboard, and every score threshold T becomes the bound `log2 T + t/H` that moves
// with the request's instant t. Every stage comparison goes through the key and the bound, so the fold's crossing
// instants, the indexes and the readers agree to the bit. See docs/scoring.md#decay.
import { DEFAULT_STAGE_THRESHOLDS, STAGES, type Stage, type StageThresholds } from "./stage.ts";

/**
 * Times enter keys as seconds since this instant, not since 1970: keys stay small enough that a double resolves far
 * below a millisecond of decay for the coming decades (at H = 1 s and 10 years out, about 1e-6 ms).
 */
export const DECAY_EPOCH_MS = Date.UTC(2026, 0, 1);

/**
 * The key of a zero score: below every real key (`log2` of the smallest double is −1074) yet finite, so it reads back
 * from Redis and travels in a JSON cursor as a number.
 */
export const ZERO_KEY = -Number.MAX_VALUE;

/** A score set to `score` at `from` (epoch ms), decayed to `to` (epoch ms, not before `from`). */
export function decayedScore(score: number, from: number, to: number, halfLifeSeconds: number): number {
  if (score === 0 || to === from) return score;
  return score * 2 ** (-(to - from) / (halfLifeSeconds * 1000));
}

/** `t/H` in the keys' unit: half-lives since the decay epoch. */
function halfLivesAt(t: number, halfLifeSeconds: number): number {
  return (t - DECAY_EPOCH_MS) / (halfLifeSeconds * 1000);
}

/** The sorted-set key of a score set to `score` at `at`: `log2 s + t/H`, `ZERO_KEY` for 0. */
export function decayKey(score: number, at: number, halfLifeSeconds: number): number {
  return score > 0 ? Math.log2(score) + halfLivesAt(at, halfLifeSeconds) : ZERO_KEY;
}

/**
 * The key a score equal to `threshold` has at instant `t`: a lead is at or above the threshold at `t` exactly when its
 * key is at least this bound (`ZERO_KEY` for a threshold of 0, which every lead meets).
 */
export function decayBound(threshold: number, t: number, halfLifeSeconds: number): number {
  return threshold > 0 ? Math.log2(threshold) + halfLivesAt(t, halfLifeSeconds) : ZERO_KEY;
}

/** Whether a lead with `key` is at or above `threshold` at instant `t`. */
export function atOrAbove(key: number, threshold: number, t: number, halfLifeSeconds: number): boolean {
  return key >= decayBound(threshold, t, halfLifeSeconds);
}

/** The stage of a lead with `key` at instant `t`, compared on the key as the indexes compare. */
export function stageAt(
  key: number,
  t: number,
  halfLifeSeconds: number,
  thresholds: StageThresholds = DEFAULT_STAGE_THRESHOLDS,
): Stage {
  for (let i = thresholds.length - 1; i >= 0; i--) {
    if (atOrAbove(key, thresholds[i] as number, t, halfLifeSeconds)) return STAGES[i + 1] as Stage;
  }
  return "cold";
}

/**
 * The first whole millisecond after `after` at which a lead with `key` is below `threshold` (the lead is at or above
 * it at `after`). Found from the exact instant `t* = (key − log2 T)·H + epoch` and then checked against the bound, so
 * it is the instant the indexes see the lead leave, not one rounded apart from it.
 */
export function crossingInstant(key: number, threshold: number, after: number, halfLifeSeconds: number): number {
  const exact = (key - Math.log2(threshold)) * halfLifeSeconds * 1000 + DECAY_EPOCH_MS;
  let t = Math.max(after + 1, Math.floor(exact) + 1);
  while (t > after + 1 && !atOrAbove(key, threshold, t - 1, halfLifeSeconds)) t -= 1;
  while (atOrAbove(key, threshold, t, halfLifeSeconds)) t += 1;
  return t;
}

/**
 * A score as the API's `display` fields and the dashboard show it: rounded down to a whole point, so the shown
 * number and the stage agree (thresholds are whole numbers: a lead at 299.6 is warm and shows 299).
 */
export function shownScore(score: number): number {
  return Math.floor(score);
}
